// Severity classification (issue 6, item 1): every alert is high, medium or low before it is routed.
// Prometheus-style labels map onto it: critical → high, warning → medium, info → low.
export type Severity = 'high' | 'medium' | 'low';

/** critical → high, warning → medium, info/none → low; high/medium/low kept; anything else, or no label, medium. */
export function classifySeverity(label: string | undefined): Severity {
  switch ((label ?? '').toLowerCase()) {
    case 'critical':
    case 'high':
    case 'page':
      return 'high';
    case 'warning':
    case 'medium':
      return 'medium';
    case 'info':
    case 'informational':
    case 'low':
    case 'none':
      return 'low';
    default:
      return 'medium';
  }
}
