export { main } from './main.ts'
export { adminApi, readSecret } from './client.ts'
export { ImportSourceError, countMessages, detectSource, importKey, isMaildir, readMessages } from './importMail.ts'
export type { ImportedMessage, MailSource } from './importMail.ts'
