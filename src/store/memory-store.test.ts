import { createMemoryStore } from './memory-store.ts';
import { runStoreContract } from './store.contract.ts';

runStoreContract('memory', () => createMemoryStore());
