// The shapes of remediation's rows in state.db (guard state per rule and target, plans waiting for
// approval), as zod schemas that readStored() checks on every read (src/store/state-db.ts). They accept
// everything remediation has written: JSON turns ±Infinity into null, and fields added later are optional.
import { z } from 'zod';

/** a number as JSON keeps it: NaN and ±Infinity come back as null */
const storedNumber = z.number().nullable();

export const StoredGuardState = z.looseObject({
  lastRun: storedNumber,
  lastExecuted: storedNumber.optional(),
  failures: z.number(),
  disabled: z.boolean(),
  verify: z.looseObject({ fingerprint: z.string(), at: storedNumber }).optional(),
});

const StoredPlannedStep = z.looseObject({ description: z.string(), command: z.string() });

export const StoredPendingApproval = z.looseObject({
  id: z.string(),
  rule: z.string(),
  target: z.string().optional(),
  fingerprint: z.string(),
  plan: z.looseObject({
    action: z.string(),
    steps: z.array(StoredPlannedStep),
    before: z.record(z.string(), storedNumber),
    reason: z.string().optional(),
    notes: z.array(z.string()).optional(),
  }),
  createdAt: storedNumber,
  expiresAt: storedNumber,
});
