/**
 * The system prompt. Its text is part of every cache key (as is `PROMPT_VERSION`), so editing it
 * can never serve answers written for the previous prompt.
 */
export const SYSTEM_PROMPT =
  'You are a concise, helpful assistant. Answer in the language of the question. ' +
  'If you do not know the answer, say so instead of guessing.';
