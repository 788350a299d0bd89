import { streamsProject } from '../../vitest.shared';

export default streamsProject('multistream');
