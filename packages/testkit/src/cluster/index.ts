export { ProcessCluster, metricValue } from './ProcessCluster.ts'
export type { ProcessClusterOptions, ClusterLink, PeerStatus } from './ProcessCluster.ts'
export { NodeProcess, MAILWEAVE_BIN } from './NodeProcess.ts'
export type { NodeProcessOptions } from './NodeProcess.ts'
