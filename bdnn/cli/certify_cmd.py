"""``bdnn certify``: re-prove a lower bound from its certificate (docs/design.md §4)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np

from ..atomic_files import read_json_file
from ..errors import BDNNError
from ..train.limits import MAX_TIME_LIMIT, MAX_WORKERS
from .options import emit_json

# A certificate holds a subset of the training rows: far below this.
MAX_CERTIFICATE_FILE_BYTES = 256 * 2**20


@click.command("certify")
@click.argument("certificate")
@click.argument("data")
@click.option("--time-limit", type=click.FloatRange(0, MAX_TIME_LIMIT, min_open=True),
              default=600.0, show_default=True,
              help="Seconds the re-proof of the subset's bound may take (the enumeration "
                   "where it applies, else CP-SAT).")
@click.option("--workers", type=click.IntRange(1, MAX_WORKERS), default=2, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def command(certificate, data, time_limit, workers, as_json, quiet) -> None:
    """Re-prove the lower bound in CERTIFICATE (written by `bdnn train --prove --certificate`,
    or a model file trained with --prove) on DATA (the data set it was trained on; it is read
    with the split, seed and quantizer recorded in the certificate).

    Prints verified, refuted (something recomputed is below the claim) or unproven (the
    enumeration or CP-SAT did not reach the claimed bound within --time-limit). Exit 0 when
    verified, 1 otherwise.
    """
    from ..model_file import VERSION, network_from_dict, quantizer_from_doc
    from ..train.prove import CertificateError, check_certificate, parse_certificate
    from .data_options import read_data

    doc = read_json_file(Path(certificate), "certificate", MAX_CERTIFICATE_FILE_BYTES)
    model = None
    if isinstance(doc, dict) and doc.get("format") == "bdnn":  # a model file
        model = network_from_dict(doc)
        doc = model.training.get("certificate")
        if doc is None:
            raise BDNNError(f"model file {certificate} carries no certificate; train it with "
                            "--prove")
    cert = parse_certificate(doc)
    d = cert.doc["data"]
    q = cert.doc.get("quantizer")
    try:
        # the model file's quantizer object, either form (affine or fitted thresholds)
        quantizer = quantizer_from_doc(q, cert.arch.n_inputs, version=VERSION)
        if quantizer.max_level != cert.arch.max_level:
            raise BDNNError("the quantizer's levels differ from the architecture's max_level")
        split = d.get("split", "default")
        seed = d.get("split_seed", 0)
        fraction = d.get("test_fraction", 0.25)
        if (split not in ("default", "paper", "test", "none") or not isinstance(seed, int)
                or not isinstance(fraction, (int, float))):
            raise BDNNError('"data" needs a split (default/paper/test/none), an integer '
                            'split_seed and a test_fraction')
    except BDNNError as e:
        raise CertificateError(f"certificate: {e}") from None
    ds = read_data(data, d.get("label_column"), d.get("delimiter"), split, seed, fraction)
    X, y = ds.train_part()
    if X.shape[1] != cert.arch.n_inputs:
        raise BDNNError(f"data {data} has {X.shape[1]} features, the certificate's network "
                        f"{cert.arch.n_inputs}")
    if model is not None and model.n_inputs != cert.arch.n_inputs:
        raise BDNNError("the model's inputs differ from its certificate's")
    result = check_certificate(cert, Q=quantizer.quantize(X), y=np.asarray(y), model=model,
                               time_limit=time_limit, workers=workers, progress=not quiet)
    summary = {"certificate": str(certificate), "data": data, **result.summary()}
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"{result.verdict}: bound {result.claimed} = subset "
                   f"{result.subset_claimed} (re-proven: {result.subset_proven}, "
                   f"{result.subset_status}) + rest {result.rest_claimed} (recomputed: "
                   f"{result.rest_recomputed}); {result.seconds:.1f} s")
        for r in result.reasons:
            click.echo(f"  {r}")
    if result.verdict != "verified":
        sys.exit(1)
