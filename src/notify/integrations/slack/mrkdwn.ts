// Slack's mrkdwn text: what the settings (a mention written as text) and the payload both escape.

/** Escapes Slack's three control characters (&, <, >) in mrkdwn and plain text. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
