import { z } from 'zod';

/** Hardware and OS facts an agent reports at connect. */
export const DeviceFacts = z.object({
  hostname: z.string().max(255),
  platform: z.string().max(64),
  arch: z.string().max(64),
  release: z.string().max(255),
  cpus: z.number().int().nonnegative(),
  memoryBytes: z.number().nonnegative(),
  agentVersion: z.string().max(64),
});
export type DeviceFacts = z.infer<typeof DeviceFacts>;
