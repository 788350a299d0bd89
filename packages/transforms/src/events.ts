import { EventHub } from '@streams/core';

/**
 * Events of this package (`source: 'transforms'`): `ffmpeg.resolved` (once, with the binary and
 * version), `ffmpeg.spawn` / `ffmpeg.exit` (pid per child process), `decode.failed` (with counts).
 */
export const transformsEvents = new EventHub('transforms');
