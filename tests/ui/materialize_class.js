// Drives the Dagster UI of `jh-pipeline ui` in Debian's Chromium, as a user would: open the asset
// graph, find the class's group (classes/<class>) and the shared `common` group, click Materialize on
// each, wait for the runs to succeed, then read the image asset's digest and check result from its
// page. Screenshots go to OUT_DIR (asset-graph.png is the README's picture). Prints one JSON line.
//
//   node tests/ui/materialize_class.js BASE_URL CLASS OUT_DIR [TIMEOUT_SECONDS]
"use strict";

const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const [base, className, outDir, timeoutArg] = process.argv.slice(2);
if (!base || !className || !outDir) {
  console.error("usage: node materialize_class.js BASE_URL CLASS OUT_DIR [TIMEOUT_SECONDS]");
  process.exit(2);
}
const RUN_TIMEOUT_MS = Number(timeoutArg || 1800) * 1000;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
// No network beyond 127.0.0.1: no QUIC, no component or sync traffic, no first-run pages.
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--hide-scrollbars"];

const clicked = [];
const log = (text) => console.error(`[ui] ${text}`);

async function graphql(query, variables = {}) {
  const response = await fetch(`${base}/graphql`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const RUNS = `{ runsOrError(filter: { tags: [{ key: "dagster/from_ui", value: "true" }] }) {
  ... on Runs { results { runId status assetSelection { path } } } } }`;
const FAILURES = `query ($runId: ID!) { logsForRun(runId: $runId, limit: 5000) {
  ... on EventConnection { events { __typename ... on MessageEvent { message }
    ... on ExecutionStepFailureEvent { stepKey error { message } }
    ... on AssetCheckEvaluationEvent { evaluation { success checkName description } } } } } }`;

async function uiRuns() {
  return (await graphql(RUNS)).runsOrError.results;
}

// The run a click launched: the one from the UI that was not there before.
async function launchedRun(before, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const fresh = (await uiRuns()).filter((run) => !before.has(run.runId));
    if (fresh.length === 1) return fresh[0].runId;
    if (fresh.length > 1) throw new Error(`one click launched ${fresh.length} runs`);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error("no run was launched within 60 s of the click");
}

async function failureText(runId) {
  const events = (await graphql(FAILURES, { runId })).logsForRun.events || [];
  // Failed checks first: their description names what failed; the step error only says "blocking check".
  const checks = events.filter((e) => e.__typename === "AssetCheckEvaluationEvent" && !e.evaluation.success)
    .map((e) => `check ${e.evaluation.checkName} failed: ${e.evaluation.description}`);
  const steps = events.filter((e) => e.__typename === "ExecutionStepFailureEvent" || e.__typename === "RunFailureEvent")
    .map((e) => (e.stepKey ? `${e.stepKey}: ` : "") + (e.error ? e.error.message : e.message));
  const lines = [...checks, ...steps];
  return lines.join("\n").slice(0, 6000);
}

async function waitForRun(page, runId, name) {
  // The run page streams the step logs (the docker build output among them) while we poll its status.
  await page.goto(`${base}/runs/${runId}`);
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  let shot = false;
  const started = Date.now();
  while (Date.now() < deadline) {
    const run = (await uiRuns()).find((r) => r.runId === runId);
    const status = run ? run.status : "UNKNOWN";
    if (status === "SUCCESS") {
      log(`${name}: run ${runId} succeeded after ${Math.round((Date.now() - started) / 1000)} s`);
      return;
    }
    if (["FAILURE", "CANCELED", "CANCELING"].includes(status)) {
      await page.screenshot({ path: path.join(outDir, `run-${name}-failed.png`) });
      throw new Error(`${name}: run ${runId} ended ${status}:\n${await failureText(runId)}`);
    }
    if (!shot && status === "STARTED" && Date.now() - started > 30000) {
      await page.screenshot({ path: path.join(outDir, `run-${name}.png`) });
      shot = true;
    }
    await new Promise((r) => setTimeout(r, 3000));
  }
  throw new Error(`${name}: run ${runId} did not finish within ${RUN_TIMEOUT_MS / 1000} s`);
}

// The sidebar of the global lineage lists groups as a tree: classes/<class> is <class> under classes.
async function openLineage(page) {
  await page.goto(`${base}/asset-groups`);
  await page.getByRole("button", { name: /Materialize all/ }).waitFor({ timeout: 120000 });
}

// A sidebar row: [caret button, [label button, "..." button]], found from the label's title.
function sidebarRow(page, title) {
  return page.locator(`[title="${title}"]`).first()
    .locator("xpath=ancestor::div[button[.//*[@aria-label='arrow_drop_down']]][1]");
}

async function expandGroup(page, title) {
  const row = sidebarRow(page, title);
  await row.waitFor({ timeout: 60000 });
  await row.locator("xpath=./button").first().click();
}

// The group's own "Materialize assets" menu item refuses groups that hold an observable asset
// (`<class>/requirements`, `common/requirements`): filter the graph to the group, then click its
// "Materialize all (N)", which leaves observable assets out.
async function materializeGroup(page, title, label, group) {
  const nodes = (await graphql("{ assetNodes { groupName isMaterializable } }")).assetNodes;
  const expected = nodes.filter((n) => n.groupName === group && n.isMaterializable).length;
  await openLineage(page);
  if (title !== "common") await expandGroup(page, "classes");
  const row = sidebarRow(page, title);
  await row.waitFor({ timeout: 30000 });
  await row.hover();
  await row.locator("[aria-label='more_horiz']").click();
  await page.getByRole("menuitem", { name: /Filter to this group/ }).first().click();
  const button = page.getByRole("button", { name: `Materialize all (${expected})` });
  await button.waitFor({ timeout: 60000 });
  log(`${label}: clicking "Materialize all (${expected})"`);
  clicked.push(`${group}: Materialize all (${expected})`);
  const before = new Set((await uiRuns()).map((r) => r.runId));
  await button.click();
  try {
    return await launchedRun(before);
  } catch (error) {
    await page.screenshot({ path: path.join(outDir, `click-${title}.png`) });
    throw error;
  }
}

// Automation: the schedule and the sensor, each with its state and next tick, from their pages.
async function automation(page) {
  const found = {};
  for (const name of ["semester_rebuild_schedule", "classes_on_change"]) {
    await page.goto(`${base}/automation`);
    await page.getByRole("link", { name }).first().click();
    await page.getByText("Next tick").first().waitFor({ timeout: 60000 });
    // The sensor's next tick appears after its first evaluation (about a minute after start).
    await page.waitForFunction(() => /Next tick\s+\S/.test(document.body.innerText), null, { timeout: 120000 });
    const text = await page.locator("body").innerText();
    found[name] = { next_tick: /Next tick\s+([^\n]+)/.exec(text)[1].trim(), running: /\bRunning\b/.test(text) };
    await page.screenshot({ path: path.join(outDir, `automation-${name}.png`) });
  }
  return found;
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(outDir, "chromium-")), {
    executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1400, height: 900 },
  });
  const page = context.pages()[0] || (await context.newPage());
  const result = { runs: {} };
  try {
    await openLineage(page);
    // The class's group: nested under `classes` in the sidebar.
    await expandGroup(page, "classes");
    await sidebarRow(page, className).waitFor({ timeout: 30000 });
    log(`found the group classes/${className}`);
    result.automation = await automation(page);
    log(`automation: ${JSON.stringify(result.automation)}`);

    // The shared server env and image first: every class image is built FROM the server image.
    result.runs.common = await materializeGroup(page, "common", "common", "common");
    await waitForRun(page, result.runs.common, "common");
    // conda_env, image (with its smoke_tests check) and release.
    result.runs[className] = await materializeGroup(page, className, `classes/${className}`, `classes/${className}`);
    await waitForRun(page, result.runs[className], className);

    // The image asset's page: the metadata of its latest materialization (Key, Timestamp, Value rows).
    await page.goto(`${base}/assets/${className}/image`);
    const digestRow = page.locator("tr").filter({ has: page.getByText("digest", { exact: true }) }).first();
    await digestRow.waitFor({ timeout: 60000 });
    result.digest = (await digestRow.locator("td").last().innerText()).trim();
    await page.screenshot({ path: path.join(outDir, "image-asset.png"), fullPage: true });

    // Its checks tab: the blocking smoke_tests check and the result of its latest execution.
    await page.goto(`${base}/assets/${className}/image?view=checks`);
    await page.getByText("Evaluation result").first().waitFor({ timeout: 60000 });
    await page.waitForTimeout(1000);
    result.checks_page = await page.locator("body").innerText();
    const evaluation = /Evaluation result\s+(\S+)/.exec(result.checks_page);
    result.check = { name: "smoke_tests", result: evaluation ? evaluation[1] : null };
    await page.screenshot({ path: path.join(outDir, "image-checks.png") });

    // The README's picture: the lineage with every group open, after the runs.
    const expanded = ["classes", `classes/${className}`, "common"].map((g) => `global@global:${g}`).join(",");
    await page.goto(`${base}/asset-groups?expanded=${encodeURIComponent(expanded)}`);
    await page.getByRole("button", { name: /Materialize all/ }).waitFor({ timeout: 120000 });
    await expandGroup(page, "classes");
    await page.waitForTimeout(3000);  // layout and the fit-to-view animation
    await page.screenshot({ path: path.join(outDir, "asset-graph.png") });
    result.clicked = clicked;
    result.screenshots = ["asset-graph.png", "image-asset.png", "image-checks.png"].map((f) => path.join(outDir, f));
  } finally {
    await context.close();
  }
  console.log(JSON.stringify(result));
}

main().catch((error) => {
  console.error(`error: ${error.stack || error}`);
  process.exit(1);
});
