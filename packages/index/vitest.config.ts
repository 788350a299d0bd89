import { streamsProject } from '../../vitest.shared';

// Integration tests start servers, DuckDB and child processes.
export default streamsProject('index');
