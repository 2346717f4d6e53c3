// The dashboard channel: a bounded in-memory list dpmon's own API shows. It needs no settings: every
// receiver can use it.
import { defineChannel, ok } from '../channel.ts';
import { createDashboardNotifier } from './notifier.ts';

export const channel = defineChannel({
  type: 'dashboard',
  settings: () => ok({}),
  create: (_settings: unknown, deps) => createDashboardNotifier(deps),
});
