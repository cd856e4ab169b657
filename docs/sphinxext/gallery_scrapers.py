"""A sphinx-gallery image scraper for figures made without pyplot.

The package's plotting functions (:func:`sklearn_deepprune.motifs.plot_logos`,
the :mod:`sklearn_deepprune.experiments` figures) return
:class:`matplotlib.figure.Figure` objects that pyplot does not manage, so the
default matplotlib scraper does not see them. This one saves every such
figure an example holds in a variable, once, after the code block that made
it. It must run before the matplotlib scraper, which closes pyplot's figures
and so makes them look unmanaged too.
"""

from __future__ import annotations

# Per example file, the ids of the figures already saved, or left to pyplot.
_done: dict[str, set[int]] = {}


def returned_figures(block, block_vars, gallery_conf):
    """Save the example's pyplot-free figures and return the rST showing them."""
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    done = _done.setdefault(block_vars["src_file"], set())
    paths = []
    for value in list(block_vars["example_globals"].values()):
        if not isinstance(value, Figure) or id(value) in done:
            continue
        done.add(id(value))
        # A pyplot figure is the matplotlib scraper's, also once it has closed it.
        if value.canvas.manager is None:
            path = next(block_vars["image_path_iterator"])
            value.savefig(path, dpi=gallery_conf.get("dpi", 100) or 100)
            paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])
