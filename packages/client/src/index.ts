export { NodeApi } from './NodeApi.ts'
export type { ApiAuth, ApiInspection, ApiMailboxEntry, ApiMailboxListing, ApiMessageInfo, ApiResponse, FetchLike } from './NodeApi.ts'
export { ApiError } from './ApiError.ts'
export type { ApiErrorCode } from './ApiError.ts'
