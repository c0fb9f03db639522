// The console's entry: its configuration, then sign-in, then the pages.
import { render } from "preact";
import { App } from "./app";
import "./styles.css";

render(<App />, document.getElementById("app")!);
