/** A shell session as stored: who opened which terminal, how it ended, where its recording is. */
export interface ShellSessionRecord {
  id: string;
  deviceId: string;
  username: string;
  startedAt: number;
  endedAt: number | null;
  exitCode: number | null;
  endCode: string | null;
  outputBytes: number;
  /** File name of the asciicast under the recordings directory; null once retention removed it. */
  recording: string | null;
}

export type NewShellSession = Pick<ShellSessionRecord, 'id' | 'deviceId' | 'username' | 'startedAt' | 'recording'> & {
  /** The backend process holding the session (a cluster node's instance; absent on a single node). */
  owner?: string | null;
};

export interface ShellSessionEnd {
  endedAt: number;
  exitCode: number | null;
  endCode: string | null;
  outputBytes: number;
}

/** Shell session history. */
export interface ShellSessionStore {
  insert(session: NewShellSession): Promise<void>;
  /**
   * Records how a session ended, once: false when it had ended already (or is unknown), or, with
   * `owner`, when another process has taken it over since.
   */
  end(id: string, end: ShellSessionEnd, owner?: string): Promise<boolean>;
  /** Another process takes an open session over (a console reconnected through another cluster node): false when it has ended. */
  adopt(id: string, owner: string | null): Promise<boolean>;
  /** Sessions still open after a restart never ended cleanly: they end now with GOING_AWAY. Returns how many. */
  endOrphans(now: number): Promise<number>;
  /** Owners of open sessions (cluster node instances), each once. */
  openOwners(): Promise<string[]>;
  /** The process `owner` is gone: its open sessions end now with GOING_AWAY. Returns how many. */
  endOwnedBy(owner: string, now: number): Promise<number>;
  find(id: string): Promise<ShellSessionRecord | undefined>;
  /** Newest first, of one device when `deviceId` is set. */
  list(filter: { deviceId?: string; limit: number }): Promise<ShellSessionRecord[]>;
  /** Recordings of sessions that ended before `cutoff`; the caller deletes the files, then forgets them here. */
  expiredRecordings(cutoff: number): Promise<Array<{ id: string; recording: string }>>;
  forgetRecording(id: string): Promise<void>;
}
