import type { Action } from '../core/types.js';

/** What a resource's planner says about one resource on one host. */
export interface ResourceVerdict {
  action: Action;
  reason: string;
  diff?: string;
}
