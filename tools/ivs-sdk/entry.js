// Exposes the npm build of the IVS Web Player SDK the way its CDN build does: window.IVSPlayer.
import {
  ErrorType,
  PlayerEventType,
  PlayerState,
  create,
  isPlayerSupported,
} from "amazon-ivs-player";

window.IVSPlayer = { create, isPlayerSupported, PlayerState, PlayerEventType, ErrorType };
