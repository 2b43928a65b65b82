/**
 * Notifications render `[label](target)` as a link, command: URIs included. Messages can carry
 * target-controlled text (module names, agent errors, file names), so links are broken up with a
 * zero-width space before a message is shown. Tree items render plain text and need nothing.
 */
export function plainText(text: string): string {
  return text.replace(/\]\(/g, ']\u200b(');
}
