// What worker threads import to decode sequences: a build entry of its own (tsup.config.ts), so
// that it sits beside the bundle as it sits beside the sources.
export { decodeTextTokens } from './sequenceSources/textFiles.js';
export { decodeVideoFrames } from './sequenceSources/video.js';
