import { streamsProject } from '../../vitest.shared';

// Tests spawn ffmpeg, worker threads and a child node.
export default streamsProject('transforms', { testTimeout: 60_000 });
