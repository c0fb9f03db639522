import { describe, expect, it } from "vitest";
import { nextPage, type PageOf, pagesFromTop } from "./paging";

/** A keyset listing of `rows` (in its order), `size` a page: a cursor is the last row's key. */
function listing(rows: string[], size: number) {
  const asked: (string | null)[] = [];
  const fetchPage = async (after: string | null): Promise<PageOf<string>> => {
    asked.push(after);
    const start = after === null ? 0 : rows.findIndex((r) => r > after);
    const items = start < 0 ? [] : rows.slice(start, start + size);
    const end = items.length ? items[items.length - 1]! : null;
    return { items, hasNextPage: end !== null && rows.some((r) => r > end), endCursor: end };
  };
  return { fetchPage, asked };
}

describe("paging a list with More", () => {
  it("appends the next page after the end cursor, until the list ends", async () => {
    const { fetchPage, asked } = listing(["a", "b", "c", "d", "e"], 2);
    const first = await pagesFromTop(fetchPage, 1);
    expect(first).toEqual({ items: ["a", "b"], hasNextPage: true, endCursor: "b" });
    const second = await nextPage(fetchPage, first);
    expect(second).toEqual({ items: ["a", "b", "c", "d"], hasNextPage: true, endCursor: "d" });
    const third = await nextPage(fetchPage, second);
    expect(third).toEqual({ items: ["a", "b", "c", "d", "e"], hasNextPage: false, endCursor: "e" });
    expect(asked).toEqual([null, "b", "d"]);
  });

  it("reloads as many pages from the top, with no gap or repeat after rows came and went", async () => {
    const rows = ["b", "c", "d", "e", "f"];
    const shown = await nextPage(listing(rows, 2).fetchPage, await pagesFromTop(listing(rows, 2).fetchPage, 1));
    expect(shown.items).toEqual(["b", "c", "d", "e"]);
    // "a" came before the first page, "d" went: the same two pages, recomputed.
    const { fetchPage, asked } = listing(["a", "b", "c", "e", "f"], 2);
    expect(await pagesFromTop(fetchPage, 2)).toEqual({ items: ["a", "b", "c", "e"], hasNextPage: true, endCursor: "e" });
    expect(asked).toEqual([null, "b"]);
  });

  it("stops at the end of a list shorter than the pages asked for", async () => {
    const { fetchPage, asked } = listing(["a"], 2);
    expect(await pagesFromTop(fetchPage, 3)).toEqual({ items: ["a"], hasNextPage: false, endCursor: "a" });
    expect(asked).toEqual([null]);
  });
});
