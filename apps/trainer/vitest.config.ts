import { streamsProject } from '../../vitest.shared';

// Some tests start the CLI as a child process, or s3rver.
export default streamsProject('trainer');
