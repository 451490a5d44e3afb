"""Which mode to run a document camera (高拍仪) in: pure, testable without a device.

Qt opens a camera in whatever mode the driver lists first — on most USB document
cameras 640×480, where an A4 page comes out at about 75 dpi. The camera is worth its
price only in its largest mode: 3264×2448 (8 MP) puts an A4 page at ~250 dpi.

Two sizes matter. The *video* format is what the preview shows and, on the FFmpeg
backend Qt uses on Linux and Windows, what a still is grabbed from; the *still*
resolution is what QImageCapture is asked for where the driver offers separate photo
sizes. At one size MJPEG is preferred over raw YUYV: an 8 MP YUYV stream needs ~24 MB a
frame, which USB 2 carries at 1–2 frames a second; the same MJPEG stream runs at 15.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Compressed formats a UVC camera streams; everything else is raw (YUYV, NV12…).
_COMPRESSED = frozenset({"Format_Jpeg"})


@dataclass(frozen=True, slots=True)
class VideoMode:
    width: int
    height: int
    pixel_format: str        # QVideoFrameFormat.PixelFormat's name: "Format_Jpeg", "Format_YUYV"
    max_fps: float = 0.0

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True, slots=True)
class CameraMode:
    """The mode chosen: the video format to set (None: the device lists none) and the
    still resolution to ask QImageCapture for."""

    video: VideoMode | None
    still: tuple[int, int]


def best_video(modes: Sequence[VideoMode]) -> VideoMode | None:
    """The largest format; at one size compressed (MJPEG) before raw, then the faster."""
    usable = [m for m in modes if m.width > 0 and m.height > 0]
    if not usable:
        return None
    return max(usable, key=lambda m: (m.pixels, m.pixel_format in _COMPRESSED, m.max_fps))


def choose_mode(photo_resolutions: Sequence[tuple[int, int]],
                video_modes: Sequence[VideoMode]) -> CameraMode | None:
    """The largest still the device offers: its largest photo resolution, else the size
    of its largest video format. None when it lists neither (no usable device)."""
    video = best_video(video_modes)
    photos = [(w, h) for w, h in photo_resolutions if w > 0 and h > 0]
    if photos:
        return CameraMode(video, max(photos, key=lambda size: size[0] * size[1]))
    if video is None:
        return None
    return CameraMode(video, (video.width, video.height))
