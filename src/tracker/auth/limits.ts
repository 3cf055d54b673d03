// Limits of the tracker's doors (auth/doors.ts). Each says where its value came from.
export interface DoorLimits {
  /** Campaigns a researcher may create back to back, then one per `campaignEveryMs`. */
  campaignBurst: number
  campaignEveryMs: number
  /** Campaigns one researcher may create on this tracker (each holds a coordinator and a ledger). */
  maxCampaignsPerResearcher: number
  uploadBurst: number
  uploadEveryMs: number
  /** Upload bytes per researcher per UTC day. */
  uploadBytesPerDay: number
  /** Charged for an upload that declares no length (the largest upload accepted). */
  maxUploadBytes: number
  /** All researchers together (SIWE identities cost nothing to make). */
  allResearchersBurst: number
  allResearchersEveryMs: number
  /** Failed admin sign-ins per client address. */
  loginFailureBurst: number
  loginFailureEveryMs: number
  /** Identities and client addresses tracked at once (LRU beyond). */
  maxIdentities: number
}

export const DOOR_LIMITS: DoorLimits = {
  // A researcher iterating on a manifest creates a few in a row; more than one a minute after that is a script.
  campaignBurst: 10,
  campaignEveryMs: 60_000,
  maxCampaignsPerResearcher: 100,
  // An upload is up to 32 MiB (dataset-routes.ts MAX_DATASET_BYTES); 5 in a row, then one per minute.
  uploadBurst: 5,
  uploadEveryMs: 60_000,
  // 16 full-size uploads a day.
  uploadBytesPerDay: 512 * 1024 * 1024,
  maxUploadBytes: 32 * 1024 * 1024,
  // Bounds disk growth from many fresh identities: ~2 GiB of uploads per hour at most.
  allResearchersBurst: 60,
  allResearchersEveryMs: 60_000,
  loginFailureBurst: 10,
  loginFailureEveryMs: 60_000,
  maxIdentities: 10_000
}
