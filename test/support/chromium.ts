import { CHROMIUM_PATH } from '@gatehouse/testing';
import { chromium, type Browser } from 'playwright-core';
import { missingBuild, startDemoStack, type DemoStack } from './demo-stack.js';

/** Debian's Chromium, headless, with the flags CI needs (never a browser playwright downloads). */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env['CHROMIUM_PATH'] ?? CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', ...extraArgs],
    headless: true,
  });
}

/** The demo stack (`gatehouse up` from the built CLI) and a Chromium, started side by side. */
export async function startDemoStackAndChromium(): Promise<{ stack: DemoStack; browser: Browser }> {
  const missing = missingBuild();
  if (missing.length > 0) throw new Error(`not built: ${missing.join(', ')} (run npm run build)`);
  const [stack, browser] = await Promise.all([startDemoStack(), launchChromium()]);
  return { stack, browser };
}
