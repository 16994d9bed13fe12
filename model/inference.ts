/**
 * The model service's pure core: one `features` delivery in, the `y_pred`
 * message to publish out, or the reason to dead-letter the input.
 *
 * @module
 */
import type { AMQPProperties } from "@cloudamqp/amqp-client";
import {
  checkTarget,
  encodeBody,
  HEADERS,
  numberHeader,
  type Parsed,
  parseFeatureVector,
  parseId,
} from "../stack/contracts.ts";
import { type ModelArtifact, predict } from "./linear.ts";

/** A message ready to publish. */
export interface Outgoing {
  readonly id: string;
  readonly prediction: number;
  readonly body: string;
  readonly properties: AMQPProperties;
}

/** What {@link infer} needs besides the message. */
export interface InferenceContext {
  readonly model: ModelArtifact;
  readonly replica: string;
  readonly maxBodyBytes: number;
  /** Publish time of the prediction. */
  readonly now: Date;
  /** Wall-clock ms when the handler got the message, carried on as `received-at-ms`. */
  readonly receivedAtMs?: number;
}

/**
 * Validates a `features` message and predicts its target. The prediction
 * keeps the sample id as both `messageId` and `correlationId` and carries
 * the features' send time on, so the metric service can measure end-to-end
 * latency. A prediction that is not finite or outside the contract's range
 * (an artifact with huge weights) is not an output: the input is
 * dead-lettered with the reason instead.
 */
export function infer(
  body: Uint8Array | null,
  properties: AMQPProperties,
  context: InferenceContext,
): Parsed<Outgoing> {
  const id = parseId(properties.messageId, "messageId");
  if (!id.ok) return id;
  const vector = parseFeatureVector(body, context.maxBodyBytes);
  if (!vector.ok) return vector;
  const predicted = checkTarget(predict(context.model, vector.value));
  if (!predicted.ok) {
    return {
      ok: false,
      code: "prediction_out_of_range",
      reason: `prediction ${predicted.reason}`,
    };
  }
  const prediction = predicted.value;
  const sentAt = numberHeader(properties.headers, HEADERS.sentAtMs);
  return {
    ok: true,
    value: {
      id: id.value,
      prediction,
      body: encodeBody(prediction),
      properties: {
        messageId: id.value,
        correlationId: id.value,
        contentType: "application/json",
        appId: "model",
        timestamp: context.now,
        headers: {
          [HEADERS.modelVersion]: context.model.version,
          [HEADERS.replica]: context.replica,
          [HEADERS.inputs]: encodeBody(vector.value),
          ...(sentAt === undefined ? {} : { [HEADERS.sentAtMs]: sentAt }),
          ...(context.receivedAtMs === undefined
            ? {}
            : { [HEADERS.receivedAtMs]: context.receivedAtMs }),
        },
      },
    },
  };
}

/**
 * `properties` with `predicted-at-ms` set to `atMs`: stamped just before the publish, after any
 * inference delay, so metric can tell model's handling from the hop after it.
 */
export function stampPredictedAt(properties: AMQPProperties, atMs: number): AMQPProperties {
  return { ...properties, headers: { ...properties.headers, [HEADERS.predictedAtMs]: atMs } };
}
