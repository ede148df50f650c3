// Yes/no questions in the app's own dialog (ConfirmHost.svelte shows them), instead of the
// browser's `confirm()`: same look as every other dialog, and nothing blocks the page.

export interface Question {
  title: string;
  message: string;
  /** The button that answers yes. */
  yes: string;
  /** The button that answers no (also Escape and the close button). */
  no: string;
  /** Whether yes loses something (a red button). */
  danger?: boolean;
}

/** Questions are asked one at a time. */
let queue: Promise<void> = Promise.resolve();

export const question = $state<{ current: (Question & { answer: (yes: boolean) => void }) | null }>({ current: null });

/** Ask; resolves true for yes. A question asked while another is open waits its turn. */
export function ask(q: Question): Promise<boolean> {
  const turn = queue.then(
    () =>
      new Promise<boolean>((resolve) => {
        question.current = {
          ...q,
          answer: (yes) => {
            question.current = null;
            resolve(yes);
          },
        };
      }),
  );
  queue = turn.then(
    () => undefined,
    () => undefined,
  );
  return turn;
}
