export { main } from './main.ts'
export { NodeClient, readSecret } from './client.ts'
export { readMessages, countMessages, isMaildir } from './importMail.ts'
export type { ImportedMessage } from './importMail.ts'
