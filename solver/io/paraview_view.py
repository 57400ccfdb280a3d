"""Render a result with ParaView to PNG: the particle's surface and a slice through its
centre side by side, coloured by one field, at the last output time (or at the peak
from `fields_at_peak.xdmf`); a 1D result is drawn as a line chart of the field over r.

A pvpython script (ParaView's Python, not the lrmo environment); offscreen it needs an
X server, e.g.

    xvfb-run -a -s "-screen 0 1920x1080x24 -noreset" pvpython solver/io/paraview_view.py RESULT --out view.png
    lrmo view RESULT_DIR --out view.png [--field c_Li_mol_m3] [--peak]

It reads the files as a user does, with ParaView's XDMF reader (Xdmf3ReaderT):
docs/paraview.md."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

SIZE = (1600, 800)
# 24-bit colour: ParaView's OpenGL context fails on Xvfb's default 8-bit screen; no
# reset: pvpython's first window closes again, and a server that resets when its last
# client leaves refuses the next connection now and then ("bad X server connection")
XVFB_SERVER_ARGS = "-screen 0 1920x1080x24 -noreset"
BLACK, WHITE = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]


def fields_file(result: Path, peak: bool) -> Path:
    """The XDMF file of a result folder (or the file itself): fields_at_peak.xdmf with
    `peak`, else fields/fields.xdmf, else a running job's fields.partial/fields.xdmf."""
    if result.is_file():
        return result
    names = ["fields_at_peak.xdmf"] if peak else ["fields/fields.xdmf", "fields.partial/fields.xdmf"]
    for name in names:
        if (result / name).is_file():
            return result / name
    raise SystemExit(f"no {' or '.join(names)} in {result} (was it run with output.fields: true"
                     f"{' and mechanics' if peak else ''}?)")


def pvpython_command(script_args: list[str]) -> list[str] | None:
    """The command that runs this script with pvpython (`LRMO_PVPYTHON` or the first
    pvpython on PATH), through `xvfb-run` where it exists (off screen, whatever DISPLAY
    says); None without pvpython."""
    import shutil

    pvpython = os.environ.get("LRMO_PVPYTHON") or shutil.which("pvpython")
    if pvpython is None:
        return None
    command = [pvpython, str(Path(__file__).resolve()), *script_args]
    if shutil.which("xvfb-run"):
        command = ["xvfb-run", "-a", "-s", XVFB_SERVER_ARGS, *command]
    return command


def launch(result, out, field: str = "sigma_vm_Pa", peak: bool = False, time: float | None = None) -> int:
    """`lrmo view`: render in a pvpython process (ParaView's Python is not lrmo's);
    returns its exit code, 1 when there is no pvpython."""
    import subprocess

    args = [str(result), "--out", str(out), "--field", field] + (["--peak"] if peak else []) \
        + ([] if time is None else ["--time", repr(time)])
    import json
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lrmo-view-") as tmp:
        # the script reports through a file: pvpython 5.13 routes print() through VTK's
        # output window, which the hard exit below drops (stdout came back empty)
        info_file = Path(tmp) / "info.json"
        command = pvpython_command(args + ["--info", str(info_file)])
        if command is None:
            print("lrmo view: pvpython not found (ParaView's Python; Debian: apt-get install paraview xvfb, "
                  "or set LRMO_PVPYTHON)", file=sys.stderr)
            return 1
        code = subprocess.run(command).returncode
        if code == 0 and not info_file.exists():
            print(f"lrmo view: pvpython exited without rendering {out}", file=sys.stderr)
            return 1
        if code == 0:
            print(describe(json.loads(info_file.read_text()), out), flush=True)
        return code


def describe(info: dict, out) -> str:
    """The one line `lrmo view` prints about the PNG it wrote."""
    return (f"wrote {out} ({info['field']} at t = {info['time_s']:.6g} s, "
            f"range {info['range'][0]:.4g} .. {info['range'][1]:.4g}, from {info['file']})")


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("result", type=Path, help="a result folder (or an .xdmf file)")
    p.add_argument("--out", type=Path, default=Path("view.png"), help="PNG to write (default: view.png)")
    p.add_argument("--field", default="sigma_vm_Pa",
                   help="array to colour by, e.g. c_Li_mol_m3 or region_id (default: sigma_vm_Pa)")
    p.add_argument("--peak", action="store_true", help="the state at the peak (fields_at_peak.xdmf)")
    p.add_argument("--time", type=float, default=None, help="time in s (default: the last one)")
    p.add_argument("--info", type=Path, default=None,
                   help="write what was rendered (JSON) to this file instead of printing it")
    return p.parse_args(argv)


def _white(view) -> None:
    if hasattr(view, "UseColorPaletteForBackground"):  # ParaView >= 5.10
        view.UseColorPaletteForBackground = 0
    view.Background = WHITE
    if hasattr(view, "OrientationAxesVisibility"):
        view.OrientationAxesVisibility = 0


# what a field's colour bar says: (title with the unit, factor from the file's SI value)
STRESS_NAMES = {"sigma_vm_Pa": "von Mises stress", "sigma_r_Pa": "radial stress", "sigma_t_Pa": "hoop stress",
                "sigma_h_Pa": "hydrostatic stress", "sigma_1_Pa": "largest principal stress"}
OTHER_TITLES = {"c_Li_mol_m3": "c_Li (mol/m³)", "theta_Li": "site fraction θ", "region_id": "region",
                "c_O2_mol_m3": "c_O2 (mol/m³)", "Gamma_O2_mol_m2": "captured O2 (mol/m²)",
                "O2_flux_out_mol_m2_s": "O2 flux out (mol/(m² s))"}


def shown_as(field: str) -> tuple[str, float]:
    """(colour-bar title naming the field and its unit, factor applied to the file's
    values): stresses in MPa."""
    if field in STRESS_NAMES:
        return f"{STRESS_NAMES[field]} (MPa)", 1e-6
    if field.endswith("_Pa"):
        return f"{field[:-3]} (MPa)", 1e-6
    return OTHER_TITLES.get(field, field), 1.0


def _colour(pv, display, view, array: str, title: str, data_range, kind: str = "POINTS") -> None:
    """Colour by `array` with a perceptual map (viridis), its bar to the right of the
    geometry (the camera leaves that strip free), horizontal labels that do not overlap."""
    pv.ColorBy(display, (kind, array))
    lut = pv.GetColorTransferFunction(array)
    lut.ApplyPreset("Viridis (matplotlib)", True)
    lut.RescaleTransferFunction(*data_range)
    display.SetScalarBarVisibility(view, True)
    bar = pv.GetScalarBar(lut, view)
    bar.Title, bar.ComponentTitle = title.replace(" (", "\n("), ""  # the unit on a line of its own: narrow
    bar.TitleColor = bar.LabelColor = BLACK
    bar.TitleFontSize, bar.LabelFontSize = 16, 14
    bar.TitleBold = 1
    bar.Orientation = "Vertical"
    bar.WindowLocation = "Any Location"
    bar.Position = [0.72, 0.1]
    bar.ScalarBarLength = 0.7
    bar.ScalarBarThickness = 16
    bar.HorizontalTitle = 1
    bar.TitleJustification = "Centered"
    bar.AutomaticLabelFormat = 0
    bar.LabelFormat = "%.3g"
    bar.RangeLabelFormat = "%.4g"
    bar.AddRangeLabels = 1


def render(path: Path, out: Path, field: str, time: float | None) -> dict:
    from paraview import simple as pv

    reader = pv.Xdmf3ReaderT(FileName=[str(path)])
    times = list(reader.TimestepValues) if hasattr(reader.TimestepValues, "__len__") \
        else [reader.TimestepValues]
    t = times[-1] if time is None else min(times, key=lambda s: abs(s - time))
    reader.UpdatePipeline(t)
    arrays = list(reader.PointData.keys())
    kind = "CELLS" if field in reader.CellData.keys() else "POINTS"  # region_id is a cell array
    if kind == "POINTS" and field not in arrays:
        field = next((a for a in arrays if a.startswith("sigma_vm")), arrays[0])
    data_range = (reader.CellData if kind == "CELLS" else reader.PointData)[field].GetRange()
    x0, x1, y0, y1, z0, z1 = reader.GetDataInformation().GetBounds()
    layout = pv.CreateLayout("lrmo view")
    title, factor = shown_as(field)
    caption = f"{path.name}: {title}, t = {t:.6g} s ({t / 60:.4g} min)"
    if y1 - y0 == 0 and z1 - z0 == 0:  # a 1D (radial) result: the field over r
        line = pv.PlotOverLine(Input=reader)
        line.Point1, line.Point2, line.Resolution = [x0, 0.0, 0.0], [x1, 0.0, 0.0], 2000
        view = pv.CreateView("XYChartView")
        pv.AssignViewToLayout(view=view, layout=layout, hint=0)
        view.ViewTime = t
        display = pv.Show(line, view)
        display.UseIndexForXAxis = 0
        display.XArrayName = "Points_X"
        display.SeriesVisibility = [field]
        display.SeriesLineThickness = [field, "3"]
        unit = "nm" if any(a.endswith("_nm") for a in arrays) else "m"
        view.LeftAxisTitle, view.BottomAxisTitle = field, f"r ({unit})"
        view.ChartTitle = f"{field} at t = {t:.6g} s ({t / 60:.4g} min)"
        for name in ("ChartTitleFontSize", "LeftAxisTitleFontSize", "BottomAxisTitleFontSize"):
            setattr(view, name, 14)
        for name in ("LeftAxisLabelFontSize", "BottomAxisLabelFontSize"):
            setattr(view, name, 12)
    else:
        source = reader
        radius = max(x1 - x0, y1 - y0, z1 - z0)
        metres = radius < 1e-3
        if metres:  # metres (output.length_unit: m): ParaView renders slices black
            source = pv.Transform(Input=reader)
            source.Transform.Scale = [1e9] * 3
            x0, x1, y0, y1, z0, z1, radius = (v * 1e9 for v in (x0, x1, y0, y1, z0, z1, radius))
        if factor != 1.0:  # stresses in MPa: a scaled copy of the array
            array = title
            source = pv.Calculator(Input=source, AttributeType="Cell Data" if kind == "CELLS" else "Point Data",
                                   ResultArrayName=array, Function=f"{field}*{factor!r}")
            shown_range = tuple(v * factor for v in data_range)
        else:
            shown_range = data_range
            array = field
        octant = x0 >= -1e-9 * radius
        # an octant's centre lies on its faces: a plane through (0, 0, 0) cuts nothing, so
        # the slice lies just inside (z = 0.1 % of the height; a sphere: its centre plane)
        centre = [0.0 if octant else (x0 + x1) / 2, 0.0 if octant else (y0 + y1) / 2,
                  z0 + 1e-3 * (z1 - z0) if octant else (z0 + z1) / 2]
        surface_view = pv.CreateView("RenderView")
        pv.AssignViewToLayout(view=surface_view, layout=layout, hint=0)
        layout.SplitHorizontal(0, 0.5)
        slice_view = pv.CreateView("RenderView")
        pv.AssignViewToLayout(view=slice_view, layout=layout, hint=2)
        for view in (surface_view, slice_view):
            _white(view)
        surface = pv.Show(source, surface_view)
        _colour(pv, surface, surface_view, array, title, shown_range, kind)
        surface.SetScalarBarVisibility(surface_view, False)
        cut = pv.Slice(Input=source)
        cut.SliceType = "Plane"
        cut.SliceType.Origin = centre
        cut.SliceType.Normal = [0.0, 0.0, 1.0]
        section = pv.Show(cut, slice_view)
        _colour(pv, section, slice_view, array, title, shown_range, kind)
        # an octant seen from x < 0 shows its face x = 0 (a section) beside the surface
        direction = [-0.55, 1.0, 0.75] if octant else [1.0, -1.0, 0.8]
        surface_view.CameraFocalPoint = centre
        surface_view.CameraPosition = [c + 4 * radius * d for c, d in zip(centre, direction)]
        surface_view.CameraViewUp = [0.0, 0.0, 1.0]
        slice_view.CameraFocalPoint = centre
        slice_view.CameraPosition = [centre[0], centre[1], centre[2] + 4 * radius]
        slice_view.CameraViewUp = [0.0, 1.0, 0.0]
        for view in (surface_view, slice_view):
            view.ViewTime = t
            pv.ResetCamera(view)
        # the slice to the left of the colour bar: the camera moved right, pulled back
        camera = slice_view.GetActiveCamera()
        camera.Dolly(0.75)
        shift = 0.25 * radius
        slice_view.CameraFocalPoint = [camera.GetFocalPoint()[0] + shift, *camera.GetFocalPoint()[1:]]
        slice_view.CameraPosition = [camera.GetPosition()[0] + shift, *camera.GetPosition()[1:]]
        title = pv.Text(Text=caption)
        shown = pv.Show(title, surface_view)
        shown.Color, shown.FontSize, shown.WindowLocation = BLACK, 12, "Upper Left Corner"
        label = pv.Text(Text=f"slice z = {centre[2]:.3g} nm" + (" (the file in m, scaled)" if metres else ""))
        shown = pv.Show(label, slice_view)
        shown.Color, shown.FontSize, shown.WindowLocation = BLACK, 12, "Upper Left Corner"
    out.parent.mkdir(parents=True, exist_ok=True)
    pv.SaveScreenshot(str(out), layout, ImageResolution=list(SIZE))
    return {"file": str(path), "field": field, "time_s": t, "range": data_range}


def main(argv=None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    info = render(fields_file(args.result, args.peak), args.out, args.field, args.time)
    if args.info is not None:
        import json

        args.info.write_text(json.dumps({**info, "time_s": float(info["time_s"]),
                                         "range": [float(v) for v in info["range"]]}))
    else:
        print(describe(info, args.out), flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    # ParaView 5.11 under xvfb-run can abort in its OpenGL teardown (GLXBadContext)
    # after the PNG is written: leave without it
    os._exit(code)
