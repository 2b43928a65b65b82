/** Markdown for chat answers and documents, pure. */

/** Text from the target (type names, thread names) as literal markdown; `code spans` the engine wrote are kept. */
export function escapeMarkdown(text: string): string {
  return text.split(/(`[^`\n]+`)/).map((part, i) => (i % 2 ? part : part.replace(/[\\`*_{}[\]()#+\-.!<>|~]/g, (c) => `\\${c}`))).join('');
}
