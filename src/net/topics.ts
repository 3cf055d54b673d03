// Gossipsub topic names.

/** Tabs of a campaign subscribe here; the tracker counts subscribers as live volunteers. */
export function campaignTopic (campaignId: string): string {
  return `tabgrad/campaign/${campaignId}`
}
