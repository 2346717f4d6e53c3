// Dispatch: the route tree and aggregation groups between the alert store and the notification
// pipeline (docs/routing.md).
export * from './receivers.ts';
export * from './route.ts';
export * from './config.ts';
export * from './state.ts';
export * from './dispatcher.ts';
