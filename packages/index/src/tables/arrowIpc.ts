// Arrow IPC index files (`.arrow`, `.feather`, `.ipc`, and the node-local copies of other indexes):
// one chunk per record batch, read by index from the file's footer. Local files are read from a
// file handle; remote ones are fetched whole (through the node cache when there is one).
import { open } from 'node:fs/promises';
import { StreamsError } from '@streams/core';
import { type Field, type RecordBatch, RecordBatchReader } from 'apache-arrow';
import { basenameUrl, isRemoteUrl, toLocalPath } from '../urls.js';
import { invalid, type PartOptions, type TablePart } from './tablePart.js';

type BatchAt = (index: number) => Promise<RecordBatch>;

function damaged(url: string, cause: unknown): StreamsError {
  if (cause instanceof StreamsError) return cause;
  return invalid(
    `${basenameUrl(url)} is not a valid Arrow IPC file: ${(cause as Error)?.message}`,
    url,
    cause,
    'rewrite the Arrow file',
  );
}

/** Opens an Arrow IPC file or stream; batches are counted once (one in memory at a time). */
export async function arrowPart(url: string, options: PartOptions): Promise<TablePart> {
  const { source, signal } = options;
  let fields: Field[];
  const sizes: number[] = [];
  let batchAt: BatchAt;
  // A remote file is read from its node-cache entry when the source has a cache.
  const pinned = isRemoteUrl(url) ? await source.pin?.(url, { signal }) : undefined;
  const local = pinned?.path ?? (isRemoteUrl(url) ? undefined : toLocalPath(url));
  let close = async () => {
    await pinned?.release();
  };
  try {
    if (local !== undefined) {
      const fh = await open(local, 'r').catch((cause) => {
        throw new StreamsError('STREAMS_NOT_FOUND', `[streams/index] ${url} does not exist`, {
          url,
          cause,
          fix: 'check the path',
        });
      });
      close = async () => {
        await fh.close();
        await pinned?.release();
      };
      const reader = await (await RecordBatchReader.from(fh)).open();
      fields = [...reader.schema.fields];
      if (reader.isFile()) {
        for (let i = 0; i < reader.numRecordBatches; i++)
          sizes.push((await reader.readRecordBatch(i))?.numRows ?? 0);
        // One reader, one file position: batch reads take turns.
        let turn: Promise<unknown> = Promise.resolve();
        batchAt = (i) => {
          const next = turn.then(async () => {
            const b = await reader.readRecordBatch(i);
            if (!b) throw invalid(`${basenameUrl(url)} lost record batch ${i}`, url);
            return b;
          });
          turn = next.catch(() => undefined);
          return next;
        };
      } else {
        // A stream (no footer): its batches are kept, read once.
        const all: RecordBatch[] = [];
        for await (const b of reader as AsyncIterable<RecordBatch>) all.push(b);
        for (const b of all) sizes.push(b.numRows);
        batchAt = async (i) => all[i] as RecordBatch;
      }
    } else {
      const bytes = await source.read(url, { signal });
      const reader = RecordBatchReader.from(bytes).open();
      fields = [...reader.schema.fields];
      const all: RecordBatch[] = [];
      for (const b of reader as Iterable<RecordBatch>) all.push(b);
      for (const b of all) sizes.push(b.numRows);
      batchAt = async (i) => all[i] as RecordBatch;
    }
  } catch (cause) {
    await close();
    throw damaged(url, cause);
  }
  return {
    url,
    fields,
    numRows: sizes.reduce((a, b) => a + b, 0),
    chunks: sizes.map((rows, i) => ({
      rows,
      load: async () => {
        try {
          return await batchAt(i);
        } catch (cause) {
          throw damaged(url, cause);
        }
      },
    })),
    close,
  };
}
