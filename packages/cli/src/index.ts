export { main } from './main.ts'
export { adminApi, readSecret } from './client.ts'
export { readMessages, countMessages, isMaildir } from './importMail.ts'
export type { ImportedMessage } from './importMail.ts'
