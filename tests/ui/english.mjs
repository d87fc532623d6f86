// Puts the English catalogue in force for the tests that check English wording. Imported
// first by each test file (node runs each file in a process of its own).
import { readFileSync } from "node:fs";
import { setCatalogue } from "../../ui/lib/i18n.js";

const english = JSON.parse(readFileSync(new URL("../../ui/i18n/en.json", import.meta.url), "utf8"));
setCatalogue("en", english);
