// GraphiQL, self-hosted (served on GET /graphql to browsers): no CDN. Paste a token in the
// headers tab ({"Authorization": "Bearer …"}); subscriptions use graphql-transport-ws.
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import { createElement } from "react";
import { createRoot } from "react-dom/client";
import "graphiql/style.css";
import "./page.css";

const url = new URL("/graphql", location.href);
const socket = new URL(url);
socket.protocol = url.protocol === "https:" ? "wss:" : "ws:";
const fetcher = createGraphiQLFetcher({ url: url.href, subscriptionUrl: socket.href });

createRoot(document.getElementById("graphiql")!).render(
  createElement(GraphiQL, { fetcher, defaultHeaders: '{"Authorization": "Bearer <token>"}' }),
);
