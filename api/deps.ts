// What the API needs from the daemon. Services are optional so tests can build
// a server with only the parts they exercise; routes of absent services are not registered.
import type { DaemonConfig } from '../daemon/config.js';
import type { EventBus } from '../daemon/events.js';
import type { SystemService } from '../daemon/system.js';

export interface ApiDeps {
  config: DaemonConfig;
  events: EventBus;
  system: SystemService;
  /** Long-lived responses register a function that ends them at daemon shutdown; returns the unregister function. */
  onShutdown(fn: () => void | Promise<void>): () => void;
  // Filled in as subsystems land (typed loosely here to keep api/ → daemon/ the only arrow).
  [service: string]: unknown;
}
