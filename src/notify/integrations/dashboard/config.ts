// The dashboard channel needs no settings: every receiver can use it.
import type { Integration } from '../integration.ts';
import { ok } from '../integration.ts';
import { createDashboardNotifier } from './notifier.ts';

export type DashboardSettings = Record<string, never>;

export const dashboardIntegration: Integration<DashboardSettings, 'dashboard'> = {
  type: 'dashboard',
  settings: () => ok({}),
  create: (_settings, deps) => createDashboardNotifier(deps),
};
