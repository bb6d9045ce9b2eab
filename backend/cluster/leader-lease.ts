/**
 * Who does the cluster's once-only work (rollups, retention, start-up clean-up). A single node
 * is always the leader ({@link SOLE_LEADER}); a cluster node holds a PostgreSQL advisory lock
 * (backend/store/postgres/advisory-lease.ts) for as long as it leads.
 */
export interface LeaderLease {
  readonly isLeader: boolean;
  /** Called with the new state each time it changes. */
  onChange(listener: (leader: boolean) => void): () => void;
  close(): Promise<void>;
}

export const SOLE_LEADER: LeaderLease = {
  isLeader: true,
  onChange: () => () => undefined,
  close: async () => undefined,
};
