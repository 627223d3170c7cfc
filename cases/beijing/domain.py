"""Geometry and hydrogeology of the Beijing-Plain-like domain.

The plain is a rectangle (about 100 km x 80 km) whose west and north edges are the
mountain front. A fining index f in [0, 1] orders the sediments: 0 on the alluvial fans
along the front (one sand-gravel layer, hydraulically a single aquifer), 1 far out on the
plain (interbedded sand-clay multi-layers). It grows with the distance from the front
(a soft minimum of the distances to the two fronts), stays low along the upper courses of
the Yongding and Chaobai rivers (their fans reach further into the plain), and carries a
smooth random part. Every hydraulic property is a log-linear blend of its fan and far
values by f; the four aquifer groups lie at the seminar's depths below the land surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cases.beijing.fields import Grid, bilinear, random_fields
from cases.beijing.streams import stream

KM = 1000.0


def polyline_distance(x, y, path) -> tuple[np.ndarray, np.ndarray]:
    """Distance (m) from points (x, y) to the polyline ``path`` [[x, y], ...] (m), and the
    position of the nearest point along it as a fraction of its length from the start."""
    path = np.asarray(path, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)[..., None]
    y = np.asarray(y, dtype=np.float64)[..., None]
    a, b = path[:-1], path[1:]
    seg = b - a
    length = np.hypot(seg[:, 0], seg[:, 1])
    t = np.clip(((x - a[:, 0]) * seg[:, 0] + (y - a[:, 1]) * seg[:, 1]) / length**2, 0, 1)
    dist = np.hypot(x - (a[:, 0] + t * seg[:, 0]), y - (a[:, 1] + t * seg[:, 1]))
    nearest = np.argmin(dist, axis=-1)
    start = np.concatenate([[0.0], np.cumsum(length)[:-1]])
    along = (np.take(start, nearest) + np.take_along_axis(t, nearest[..., None], -1)[..., 0]
             * np.take(length, nearest)) / length.sum()
    return np.min(dist, axis=-1), along


def blend(front, far, f, log: bool = True):
    """The fan value at f = 0, the far value at f = 1; log-linear by default."""
    if log:
        return np.exp(np.log(front) * (1.0 - f) + np.log(far) * f)
    return front * (1.0 - f) + far * f


@dataclass(frozen=True)
class Domain:
    """The plain: settings [domain] and [hydraulics], and the random fields of ``seed``
    on the field grid (fining index [ny, nx]; ln K perturbation [A, ny, nx])."""

    settings: dict
    grid: Grid
    fining_field: np.ndarray
    front_distance_field: np.ndarray
    ln_k_noise: np.ndarray

    @classmethod
    def create(cls, settings: dict, seed: int) -> "Domain":
        d = settings["domain"]
        x0, y0 = d["origin"]
        grid = Grid.covering(x0, y0, d["width"], d["height"], d["field_spacing"])
        rng = stream(seed, "domain")
        gx, gy = grid.mesh()
        front = _front_distance(d, gx, gy)
        fining = front / d["fining_distance"]
        for river in d["rivers"]:
            dist, along = polyline_distance(gx, gy, _absolute(d, river["path_km"]))
            lobe = np.exp(-0.5 * (dist / d["fan_lobe_width"]) ** 2)
            fining -= d["fan_lobe_strength"] * lobe * np.clip(1 - along / d["fan_lobe_reach"],
                                                              0, 1)
        fining += d["fining_noise"] * random_fields(rng, grid, d["fining_noise_length"])
        h = settings["hydraulics"]
        noise = h["k_noise"] * random_fields(rng, grid, h["k_noise_length"],
                                             count=len(d["aquifer_names"]))
        return cls(settings, grid, np.clip(fining, 0.0, 1.0), front, noise)

    # -- geometry ------------------------------------------------------------------
    @property
    def origin(self) -> tuple[float, float]:
        return tuple(self.settings["domain"]["origin"])

    @property
    def extent(self) -> tuple[float, float]:
        d = self.settings["domain"]
        return d["width"], d["height"]

    @property
    def predevelopment_year(self) -> int:
        return int(str(self.settings["time"]["predevelopment"])[:4])

    @property
    def aquifer_names(self) -> list[str]:
        return list(self.settings["domain"]["aquifer_names"])

    def aquifer_depths(self) -> tuple[np.ndarray, np.ndarray]:
        """[A] top and bottom of each aquifer group, m below land surface."""
        bottom = np.asarray(self.settings["domain"]["aquifer_bottoms"], dtype=np.float64)
        return np.concatenate([[0.0], bottom[:-1]]), bottom

    def km(self, position) -> tuple[float, float]:
        """A position given in km from the south-west corner, in projected metres."""
        return tuple(_absolute(self.settings["domain"], [position])[0])

    def landmark(self, name: str) -> tuple[float, float]:
        return self.km(self.settings["domain"]["landmarks_km"][name])

    # -- the zones scenario rules name (engine.scenario.Zones) ----------------------
    @property
    def zone_names(self) -> tuple[str, ...]:
        return tuple(self.settings["zones_km"])

    def in_zone(self, zone: str, x, y) -> np.ndarray:
        """True at points inside the named zone of [zones_km] ("all": everywhere)."""
        x = np.asarray(x, dtype=np.float64)
        if zone == "all":
            return np.ones(x.shape, dtype=bool)
        spec = self.settings["zones_km"][zone]
        cx, cy = self.km(spec["centre"])
        return np.hypot(x - cx, np.asarray(y) - cy) <= spec["radius"] * KM

    def grid_of(self, spacing: float) -> Grid:
        """Square cells of ``spacing`` (m) tiling the domain."""
        (x0, y0), (w, h) = self.origin, self.extent
        return Grid.covering(x0, y0, w, h, spacing)

    # -- fields at points ----------------------------------------------------------
    def fining(self, x, y) -> np.ndarray:
        return np.clip(bilinear(self.grid, self.fining_field, x, y), 0.0, 1.0)

    def front_distance(self, x, y) -> np.ndarray:
        """m from the mountain front."""
        return bilinear(self.grid, self.front_distance_field, x, y)

    def land_surface(self, x, y) -> np.ndarray:
        """m above datum, falling away from the mountain front."""
        d = self.settings["domain"]
        decay = np.exp(-self.front_distance(x, y) / (0.6 * d["fining_distance"]))
        return d["land_surface_far"] + (d["land_surface_front"] - d["land_surface_far"]) * decay

    def hydraulics(self, x, y) -> dict[str, np.ndarray]:
        """Flow properties [A, P] at points: k, k33 (m/d), ss (1/m; confined groups),
        sy (unconfined group)."""
        h = self.settings["hydraulics"]
        f = self.fining(x, y)
        n = len(self.aquifer_names)
        noise = bilinear(self.grid, self.ln_k_noise, x, y)
        k = np.array([blend(h["k_front"][a], h["k_far"][a], f) for a in range(n)])
        separation = f ** h["k33_fining_power"]
        k33 = np.array([blend(h["k33_front"][a], h["k33_far"][a], separation)
                        for a in range(n)])
        return {
            "k": k * np.exp(noise),
            "k33": k33 * np.exp(noise),
            "ss": np.repeat(blend(h["ss_front"], h["ss_far"], f)[None], n, axis=0),
            "sy": blend(h["sy_front"], h["sy_far"], f, log=False),
        }


def _absolute(domain_settings: dict, positions_km) -> np.ndarray:
    origin = np.asarray(domain_settings["origin"], dtype=np.float64)
    return origin + KM * np.asarray(positions_km, dtype=np.float64)


def _front_distance(d: dict, x, y) -> np.ndarray:
    """Soft minimum of the distances (m) to the mountain-front edges."""
    x0, y0 = d["origin"]
    distances = {"west": x - x0, "east": x0 + d["width"] - x,
                 "south": y - y0, "north": y0 + d["height"] - y}
    s = d["front_smoothing"]
    stacked = np.stack([distances[edge] for edge in d["mountain_front"]])
    low = stacked.min(axis=0)
    return low - s * np.log(np.exp(-(stacked - low) / s).sum(axis=0))
