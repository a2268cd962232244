// Contracts of the container log drivers (json-file and none).

export type LogStreamName = 'stdout' | 'stderr';

/** Docker's HostConfig.LogConfig as the API carries it. */
export interface DockerLogConfig {
  Type?: string;
  Config?: Record<string, string> | null;
}

/** A validated log configuration. */
export type LogDriverConfig =
  | {
      type: 'json-file';
      /** Bytes before a rotation; -1 = unlimited (Docker's default). Docker's units are decimal ("1k" = 1000). */
      maxSize: number;
      /** Files kept including the live one (>= 1). With 1 the live file is truncated on rotation. */
      maxFile: number;
      /** gzip rotated files (x.log.1.gz ...), as moby's loggerutils. */
      compress: boolean;
      /** The validated options as given (stored back into inspect's LogConfig.Config). */
      options: Record<string, string>;
    }
  | { type: 'none'; options: Record<string, string> };

/** One record read back from the log. `line` keeps its trailing newline if it had one. */
export interface LogEntry {
  stream: LogStreamName;
  line: Buffer;
  /** RFC 3339 with 9 fractional digits, as written. */
  time: string;
  /** `time` as nanoseconds since the epoch. */
  timeNs: bigint;
  /** The record's `attrs` (--log-opt labels/env/tag), shown by `docker logs --details`. */
  attrs?: Record<string, string>;
}

/** What a follow reader needs from a live writer. */
export interface LogWatchable {
  /** Subscribes to "new data was written"; returns an unsubscribe function. */
  onWrite(fn: () => void): () => void;
  /** Resolves when the writer has been closed (container stopped); all data is on disk by then. */
  readonly closed: Promise<void>;
  readonly isClosed: boolean;
  /** Rotations so far: a follower that fell behind reads the files rotated in between. */
  readonly rotations: number;
}

export interface ReadLogsOptions {
  stdout: boolean;
  stderr: boolean;
  /** Inclusive lower bound, nanoseconds since the epoch (0/undefined = none). */
  since?: bigint;
  /** Inclusive upper bound, nanoseconds since the epoch (0/undefined = none). */
  until?: bigint;
  /** Last N lines (counted over all streams, as Docker does) or 'all'. */
  tail?: number | 'all';
  /** Keep reading new data until `signal` aborts or `writer` closes. Without a writer: ends at EOF. */
  follow: boolean;
  /** Informational for callers; entries always carry `time`. */
  timestamps?: boolean;
  writer?: LogWatchable | null;
  signal?: AbortSignal;
  /** Polling interval while following (default 100 ms); new-data events wake the reader earlier. */
  pollMs?: number;
}
