// A list shown as its first pages of a keyset connection, with "More" for the next one. Pure:
// the page fetcher is given, so the tests run it without a gateway.

export interface PageOf<T> {
  items: T[];
  hasNextPage: boolean;
  endCursor: string | null;
}

/** `count` pages from the top, each after the previous one's end cursor (fewer when the list
 * ends first), as one list. Reloading a list this way keeps as many pages as were shown, with
 * no gap or repeat between them even when rows came or went since they were first loaded. */
export async function pagesFromTop<T>(fetchPage: (after: string | null) => Promise<PageOf<T>>, count: number): Promise<PageOf<T>> {
  let shown: PageOf<T> = { items: [], hasNextPage: true, endCursor: null };
  for (let page = 0; page < count && shown.hasNextPage; page++) {
    shown = await nextPage(fetchPage, shown);
  }
  return shown;
}

/** The list with its next page appended: the rows after its end cursor, in the listing's order
 * (keyset: a row is never shown twice, a row added before the cursor never shifts the pages). */
export async function nextPage<T>(fetchPage: (after: string | null) => Promise<PageOf<T>>, shown: PageOf<T>): Promise<PageOf<T>> {
  const page = await fetchPage(shown.endCursor);
  return {
    items: [...shown.items, ...page.items],
    hasNextPage: page.hasNextPage,
    endCursor: page.endCursor ?? shown.endCursor,
  };
}
