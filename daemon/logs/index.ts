// Container log drivers: json-file (Docker's on-disk format, what kubelet reads
// through cri-dockerd's LogPath symlink) and none.
import { JsonFileLogWriter, NullLogSink, type LogSink } from './writer.js';
import { readLogs } from './reader.js';
import { ReadLogsNotSupportedError } from './options.js';
import type { LogDriverConfig, LogEntry, ReadLogsOptions } from './types.js';
import { extraAttributes, type LogInfo } from './attrs.js';

export type { DockerLogConfig, LogDriverConfig, LogEntry, LogStreamName, LogWatchable, ReadLogsOptions } from './types.js';
export { parseLogConfig, fromHumanSize, ReadLogsNotSupportedError } from './options.js';
export { JsonFileLogWriter, NullLogSink, encodeLogRecord, logPathFor, MAX_LINE_BYTES, type LogSink, type JsonFileWriterOptions } from './writer.js';
export { readLogs, listLogFiles, decodeLogLine } from './reader.js';
export { nowNs, formatRfc3339Nano, parseRfc3339Nano, parseTimestampParam } from './time.js';
export { extraAttributes, detailsPrefix, logTag, type LogInfo } from './attrs.js';

/**
 * Opens the sink for a container's output. json-file appends to `file` (created
 * if missing); `info` (the container) gives the attributes of --log-opt labels/env/tag.
 */
export function createLogSink(cfg: LogDriverConfig, file: string, info?: LogInfo, o: { syncWrites?: boolean } = {}): LogSink {
  if (cfg.type === 'none') return new NullLogSink();
  const attrs = info ? extraAttributes(cfg.options, info) : undefined;
  return new JsonFileLogWriter(file, { maxSize: cfg.maxSize, maxFile: cfg.maxFile, compress: cfg.compress, attrs, syncWrites: o.syncWrites });
}

/** The LogPath inspect reports: the json-file path, "" for other drivers. */
export function logPathReported(cfg: LogDriverConfig, file: string): string {
  return cfg.type === 'json-file' ? file : '';
}

/**
 * `docker logs`: entries of a container's log. Throws ReadLogsNotSupportedError
 * (501, "configured logging driver does not support reading") for `none`.
 * Pass the live JsonFileLogWriter as `opts.writer` while the container runs so
 * follow ends when it stops.
 */
export function readContainerLogs(cfg: LogDriverConfig, file: string, opts: ReadLogsOptions): AsyncGenerator<LogEntry> {
  if (cfg.type !== 'json-file') throw new ReadLogsNotSupportedError();
  return readLogs(file, opts);
}
