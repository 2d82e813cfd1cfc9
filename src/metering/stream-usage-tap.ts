/**
 * Watches an OpenAI stream event by event as it is relayed: whether it ended with [DONE], the
 * usage the backend reported, and the text delivered to the client (for counting when the
 * backend reports nothing or the stream is cut). When the gateway itself asked the backend for
 * usage, the usage-only chunk is withheld from a client that did not ask for it.
 */
import { deliveredTexts } from './delivered-text.ts';
import { type ReportedUsage, readReportedUsage } from './usage.ts';

export type StreamUsageTap = {
  /** Looks at one event's data; false means the event must not reach the client. */
  inspect(data: string): boolean;
  readonly sawDone: boolean;
  readonly reported: ReportedUsage | undefined;
  /** Events that carried delivered text: one token each for most servers. */
  readonly contentEventCount: number;
  /** Everything delivered so far, as one string. */
  deliveredText(): string;
};

export function createStreamUsageTap(options: { withholdUsageEvents: boolean }): StreamUsageTap {
  let sawDone = false;
  let reported: ReportedUsage | undefined;
  let contentEventCount = 0;
  const texts: string[] = [];
  return {
    inspect(data) {
      if (data === '[DONE]') {
        sawDone = true;
        return true;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        return true;
      }
      const usage = readReportedUsage(parsed);
      const delivered = deliveredTexts(parsed);
      // An empty delta (chat's opening `{role, content: ''}` chunk, a finish chunk) is no output.
      if (delivered.some((text) => text !== '')) {
        contentEventCount += 1;
        texts.push(...delivered);
      }
      if (usage === undefined) {
        return true;
      }
      reported = usage;
      const choices = (parsed as { choices?: unknown }).choices;
      const usageOnly = !Array.isArray(choices) || choices.length === 0;
      return !(options.withholdUsageEvents && usageOnly);
    },
    get sawDone() {
      return sawDone;
    },
    get reported() {
      return reported;
    },
    get contentEventCount() {
      return contentEventCount;
    },
    deliveredText: () => texts.join(''),
  };
}
