/** Reasons come from the worker in lower case ("no instance can take traffic: …"); as a sentence they read better. */
export function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
