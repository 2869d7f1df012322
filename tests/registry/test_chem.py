import pytest

from registry.chem.adducts import infer_adduct, neutral_mass, normalize_adduct, parse_adduct
from registry.chem.identity import (
    FINGERPRINT_BITS,
    Identity,
    InvalidStructureError,
    check_inchikey,
    fingerprint_bits,
    identify,
    identify_fingerprinted,
)
from tests.conftest import shared

CAFFEINE_SMILES = "Cn1cnc2c1c(=O)n(C)c(=O)n2C"
CAFFEINE_INCHI = "InChI=1S/C8H10N4O2/c1-10-4-9-6-5(10)7(13)12(3)8(14)11(6)2/h4H,1-3H3"
CAFFEINE_KEY = "RYYVLZVUVIJVGH-UHFFFAOYSA-N"
CAFFEINE_MASS = 194.080376


@pytest.mark.parametrize("text", [CAFFEINE_SMILES, CAFFEINE_INCHI, "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"])
def test_any_identifier_gives_the_same_identity(text):
    identity = identify(text)
    assert identity.inchikey == CAFFEINE_KEY
    assert identity.formula == "C8H10N4O2"
    assert identity.monoisotopic_mass == pytest.approx(CAFFEINE_MASS, abs=1e-5)
    assert identify(identity.smiles).smiles == identity.smiles


def test_molfile_is_accepted():
    from rdkit import Chem

    block = Chem.MolToMolBlock(Chem.MolFromSmiles(CAFFEINE_SMILES))
    assert identify(block).inchikey == CAFFEINE_KEY


@pytest.mark.parametrize(
    "text, message",
    [
        ("C1CC", "cannot parse SMILES"),
        ("", "empty structure"),
        ("InChI=1S/garbage", "cannot parse InChI"),
        (CAFFEINE_KEY, "names but does not describe"),
        ("*NC1=NC(=NC(=N1)Cl)N* |$R1;;;;;;;;;;R2;;$|", "Markush"),
    ],
)
def test_bad_structures_are_refused(text, message):
    with pytest.raises(InvalidStructureError, match=message):
        identify(text)


def test_inchikey_check_compares_the_skeleton():
    identity = identify(CAFFEINE_SMILES)
    check_inchikey(identity, CAFFEINE_KEY)
    check_inchikey(identity, "RYYVLZVUVIJVGH-UHFFFAOYSA-M")  # protonation layer only
    with pytest.raises(InvalidStructureError, match="disagrees with the structure"):
        check_inchikey(identity, "KWILGNNWGSNMPA-UHFFFAOYSA-N")
    with pytest.raises(InvalidStructureError, match="not a valid InChIKey"):
        check_inchikey(identity, "not-a-key")


def test_fingerprint_uses_the_report_parameters():
    from rdkit import Chem

    bits = fingerprint_bits(CAFFEINE_SMILES)
    assert len(bits) == FINGERPRINT_BITS and set(bits) <= {"0", "1"}
    assert bits == fingerprint_bits(identify(CAFFEINE_INCHI).smiles)
    short_paths = Chem.RDKFingerprint(Chem.MolFromSmiles(CAFFEINE_SMILES), maxPath=4)
    assert bits != short_paths.ToBitString()


def _tanimoto(a: str, b: str) -> float:
    on_a = {i for i, c in enumerate(a) if c == "1"}
    on_b = {i for i, c in enumerate(b) if c == "1"}
    return len(on_a & on_b) / len(on_a | on_b)


def test_fingerprint_similarity_follows_structure():
    caffeine = fingerprint_bits(CAFFEINE_SMILES)
    theophylline = fingerprint_bits("Cn1c(=O)c2[nH]cnc2n(C)c1=O")
    benzene = fingerprint_bits("c1ccccc1")
    assert _tanimoto(caffeine, theophylline) > 0.5 > _tanimoto(caffeine, benzene)


@pytest.mark.parametrize(
    "adduct, mz",
    [
        ("[M+H]+", CAFFEINE_MASS + 1.007276),
        ("[M+Na]+", CAFFEINE_MASS + 22.989221),
        ("[M-H]-", CAFFEINE_MASS - 1.007276),
        ("[M+Cl]-", CAFFEINE_MASS + 34.969402),  # the report's minus sign is wrong
        ("[M+2H]2+", (CAFFEINE_MASS + 2 * 1.007276) / 2),
        ("[2M+Na]+", 2 * CAFFEINE_MASS + 22.989221),
    ],
)
def test_adduct_mass_round_trip(adduct, mz):
    assert parse_adduct(adduct).mz(CAFFEINE_MASS) == pytest.approx(mz, abs=1e-6)
    assert neutral_mass(mz, adduct) == pytest.approx(CAFFEINE_MASS, abs=1e-6)


@pytest.mark.parametrize(
    "text, name",
    [
        ("M+H", "[M+H]+"),
        ("[M+H]", "[M+H]+"),
        ("[M+HCOO]-", "[M+FA-H]-"),
        ("[M-H2O+H]+", "[M+H-H2O]+"),
        (" [M-H]- ", "[M-H]-"),
        ("[M+XYZ]+", None),
        ("[M+2H]++", "[M+2H]2+"),
        ("[M+CH3COOH-H]-", "[M+Hac-H]-"),
        ("[M-2H2O+H]+", "[M+H-2H2O]+"),
        ("[M+Li]+*", "[M+Li]+"),
        (None, None),
    ],
)
def test_adduct_spellings(text, name):
    assert normalize_adduct(text) == name


@pytest.mark.parametrize(
    "adduct, shift",
    [
        ("[M+H-NH3]+", 1.007276 - 17.026549),
        ("[M-H-C6H10O5]-", -1.007276 - 162.052824),
        ("[M+K]+", 38.963158),
        ("[M+NH4]+", 18.033826),
    ],
)
def test_any_formula_adduct_is_computed_from_element_masses(adduct, shift):
    assert parse_adduct(adduct).mass_shift == pytest.approx(shift, abs=2e-6)


def test_adduct_inferred_from_precursor_only_when_unambiguous():
    assert infer_adduct(CAFFEINE_MASS + 1.007276, CAFFEINE_MASS, "positive") == "[M+H]+"
    assert infer_adduct(CAFFEINE_MASS + 22.989221, CAFFEINE_MASS, None) == "[M+Na]+"
    assert infer_adduct(CAFFEINE_MASS + 5.0, CAFFEINE_MASS, "positive") is None


@pytest.mark.parametrize(
    "precursor, adduct, instrument, fits",
    [
        (195.0877, "[M+H]+", "LC-ESI-QTOF", True),
        (195.1075, "[M+H]+", "LC-ESI-QTOF", True),  # +19.8 mDa: inside 0.02 Da
        (195.1087, "[M+H]+", "LC-ESI-QTOF", False),  # +21 mDa
        (195.0667, "[M+H]+", None, False),  # -21 mDa, no instrument: high resolution
        (195.5, "[M+H]+", "LC-ESI-QQ", True),  # a triple quadrupole's unit resolution
        (195.5, "[M+H]+", "LC-ESI-IT", True),
        (195.5, "[M+H]+", "LC-ESI-ITFT", False),  # precursor measured in the Orbitrap
        (195.6, "[M+H]+", "LC-ESI-QQ", False),
        (217.0697, "[M+H]+", "LC-ESI-QTOF", False),  # a sodium adduct labelled [M+H]+
        (217.0697, "[M+Na]+", "LC-ESI-QTOF", True),
        (195.0877, "[M+Foo]+", "LC-ESI-QTOF", True),  # no adduct to check it by
    ],
)
def test_a_precursor_must_fit_its_structure(precursor, adduct, instrument, fits):
    import numpy as np

    from registry.ingest.normalize import normalize
    from registry.ingest.parsers import RecordError
    from registry.records import MsmsRecord, StructureRef

    record = MsmsRecord(
        structure=StructureRef(CAFFEINE_SMILES),
        record_id="caffeine",
        precursor_mz=precursor,
        adduct=adduct,
        ion_mode="positive",
        instrument_type=instrument,
        collision_energy=None,
        mz=np.array([138.0]),
        intensity=np.array([1.0]),
    )
    if fits:
        assert normalize(record).record.precursor_mz == precursor
        return
    with pytest.raises(RecordError) as refused:
        normalize(record)
    expected = parse_adduct(adduct).mz(CAFFEINE_MASS)
    tolerance = 0.5 if instrument and instrument.endswith(("-QQ", "-IT")) else 0.02
    assert str(refused.value) == (
        f"precursor m/z {precursor:.4f} is {precursor - expected:+.4f} Da from the structure's "
        f"{adduct} at {expected:.4f} (tolerance {tolerance:g} Da): another compound, adduct or "
        "derivative"
    )


def test_normalisation_runs_its_steps_in_order():
    """Spell the ion mode and adduct molvis's way, infer the adduct, then derive a missing
    precursor from it; none touches a spectrum that already has both in that spelling; a query
    (no structure) gets the spelling steps only."""
    import numpy as np

    from registry.ingest.normalize import (
        STEPS,
        canonical_adduct,
        canonical_ion_mode,
        derive_missing_precursor,
        infer_missing_adduct,
        normalize,
        normalize_unknown,
        precursor_fits_structure,
    )
    from registry.ingest.parsers import RecordError
    from registry.records import CcsRecord, MsmsRecord, StructureRef

    assert STEPS == (
        canonical_ion_mode,
        canonical_adduct,
        infer_missing_adduct,
        derive_missing_precursor,
        precursor_fits_structure,
    )

    def record(precursor, adduct, ion_mode="positive"):
        return MsmsRecord(
            structure=StructureRef("CN1C=NC2=C1C(=O)N(C(=O)N2C)C"),
            record_id="caffeine",
            precursor_mz=precursor,
            adduct=adduct,
            ion_mode=ion_mode,
            instrument_type=None,
            collision_energy=None,
            mz=np.array([138.0]),
            intensity=np.array([1.0]),
        )

    inferred = normalize(record(195.0877, None)).record
    assert inferred.adduct == "[M+H]+" and inferred.metadata == {"adduct_inferred": True}
    derived = normalize(record(None, "[M+Na]+")).record
    assert derived.precursor_mz == pytest.approx(CAFFEINE_MASS + 22.989221, abs=1e-5)
    assert derived.metadata == {"precursor_mz_derived": True}
    untouched = normalize(record(195.0877, "[M+H]+")).record
    assert untouched.metadata == {} and untouched.adduct == "[M+H]+"
    spelled = normalize(record(None, "M+Na", ion_mode="P")).record
    assert spelled.adduct == "[M+Na]+" and spelled.ion_mode == "positive"
    assert spelled.precursor_mz == pytest.approx(derived.precursor_mz)
    # an adduct molvis cannot compute: none is used, the text kept aside, none inferred over it
    unreadable = normalize(record(195.0877, "[M+Foo]+", ion_mode="Negative")).record
    assert unreadable.adduct is None and unreadable.ion_mode == "negative"
    assert unreadable.metadata == {"adduct_unreadable": "[M+Foo]+"}
    query = normalize_unknown(record(None, "M-H", ion_mode="n"))
    assert (query.adduct, query.ion_mode, query.precursor_mz) == ("[M-H]-", "negative", None)
    assert normalize_unknown(record(None, None, ion_mode="Unknown")).ion_mode == "unknown"
    # the derived precursor to six decimals, as stored
    exact = parse_adduct("[M+Na]+").mz(identify(CAFFEINE_SMILES).monoisotopic_mass)
    assert derived.precursor_mz == round(exact, 6) != round(exact, 7)
    with pytest.raises(RecordError) as refused:
        normalize(record(None, "[M+Foo]+"))
    assert str(refused.value) == (
        "no precursor m/z, and no known adduct to derive it from the structure"
    )
    # a CCS row's adduct in molvis's spelling; one molvis cannot compute stays as given
    ccs = [
        normalize_unknown(CcsRecord(StructureRef(""), None, 150.0, adduct, None, None, None))
        for adduct in ("M+H", "[M+Foo]+")
    ]
    assert [c.adduct for c in ccs] == ["[M+H]+", "[M+Foo]+"]
    assert all(c.metadata == {} for c in ccs)


def test_a_stereo_only_key_difference_is_the_same_compound():
    """Serine drawn flat, its record naming L-serine: the first block agrees, so it is kept;
    a key of another skeleton is refused."""
    flat = identify("NC(CO)C(=O)O")
    assert flat.inchikey == "MTCFGRXMJLQNBG-UHFFFAOYSA-N"
    check_inchikey(flat, "MTCFGRXMJLQNBG-REOHCLBHSA-N")  # L-serine: stereo layer only
    with pytest.raises(InvalidStructureError, match="disagrees"):
        check_inchikey(flat, "ZDXPYRJPNDTMRX-VKHMYHEASA-N")  # L-glutamine


def test_an_adduct_is_inferred_only_when_exactly_one_fits():
    """[M]+ and [M]- lie 1.1 mDa apart (5.5 ppm at m/z 200): with the ion mode unknown both fit
    a precursor at the neutral mass, so none is chosen; the mode settles it."""
    assert infer_adduct(200.0, 200.0, None) is None
    assert infer_adduct(200.0 - 0.000549, 200.0, "positive") == "[M]+"
    assert infer_adduct(200.0 + 0.000549, 200.0, "negative") == "[M]-"


def test_identity_fields_of_caffeine():
    identity = identify(CAFFEINE_SMILES)
    assert identity == Identity(
        inchikey=CAFFEINE_KEY,
        inchi=CAFFEINE_INCHI,
        smiles="Cn1c(=O)c2c(ncn2C)n(C)c1=O",
        formula="C8H10N4O2",
        monoisotopic_mass=pytest.approx(CAFFEINE_MASS, abs=1e-5),
    )


def test_inchi_without_prefix_and_inchi_hydrogens_and_aromaticity():
    """Tables drop the 'InChI=' prefix; an InChI gives implicit hydrogens and aromatic rings."""
    ethanol = identify("1S/C2H6O/c1-2-3/h3H,2H2,1H3")
    assert (ethanol.inchikey, ethanol.smiles) == ("LFQSCWFLJHTTHZ-UHFFFAOYSA-N", "CCO")
    assert identify("InChI=1S/C6H6/c1-2-4-6-5-3-1/h1-6H").smiles == "c1ccccc1"


def test_one_atom_molecules_are_compounds():
    assert identify("C").formula == "CH4"
    assert identify("[Na+]").formula == "Na+"


def test_molfile_keeps_its_blank_title_line():
    from rdkit import Chem

    block = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"))
    assert block.startswith("\n") and "M  END" in block
    assert identify(block).smiles == "CCO"
    lines = block.splitlines()
    lines[3] = "  9" + lines[3][3:]  # the counts line promises 9 atoms, 3 follow
    with pytest.raises(InvalidStructureError, match="RDKit cannot parse Molfile"):
        identify("\n".join(lines))


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty structure"),
        ("   ", "empty structure"),
        ("C1CC(", "RDKit cannot parse SMILES 'C1CC('"),
        ("InChI=1S/garbage", "RDKit cannot parse InChI 'InChI=1S/garbage'"),
        ("C(" * 40, f"RDKit cannot parse SMILES '{'C(' * 40}'"),
        ("C(" * 41, f"RDKit cannot parse SMILES '{('C(' * 41)[:77]}...'"),
        ("C(" * 40 + "C", f"RDKit cannot parse SMILES '{('C(' * 40 + 'C')[:77]}...'"),
        (CAFFEINE_KEY, f"an InChIKey ({CAFFEINE_KEY}) names but does not describe a structure"),
        (
            "*CC*",
            "'*CC*' has wildcard/R-group atoms (*): a Markush or partial structure, "
            "not one compound",
        ),
    ],
)
def test_refusals_say_exactly_why(text, message):
    with pytest.raises(InvalidStructureError) as info:
        identify(text)
    assert str(info.value) == message


def test_fingerprints_are_the_report_bits_exactly():
    """Stored fingerprints must not drift with RDKit defaults: pinned bit positions."""
    on = {
        s: [i for i, b in enumerate(fingerprint_bits(s)) if b == "1"] for s in ("CCO", "c1ccccc1O")
    }
    assert on["CCO"] == [562, 1183, 1308, 1339, 1728, 1772]
    assert len(on["c1ccccc1O"]) == 38 and on["c1ccccc1O"][:5] == [52, 103, 161, 170, 194]
    with pytest.raises(InvalidStructureError) as info:
        fingerprint_bits("C1CC(")
    assert str(info.value) == "RDKit cannot parse SMILES 'C1CC('"


def test_fingerprint_generator_gives_the_bits_of_rdkfingerprint():
    """The faster generator stands in for Chem.RDKFingerprint with the report's parameters:
    bit for bit on 2,000 real library molecules (charged, aromatic, ring-rich)."""
    import gzip
    import itertools

    from rdkit import Chem

    with gzip.open(shared("library", "test.csv.gz"), "rt") as handle:
        smiles = [line.strip() for line in itertools.islice(handle, 1, 2001)]
    smiles += ["C[N+](C)(C)CC(=O)[O-]", "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O", "[Na+].[Cl-]"]
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        reference = Chem.RDKFingerprint(
            mol, minPath=1, maxPath=7, fpSize=2048, nBitsPerHash=2, useHs=True
        )
        assert fingerprint_bits(s) == reference.ToBitString(), s


def _massbank_structures(n: int) -> list[str]:
    """The first n distinct SMILES and InChI strings of the shared MassBank MGF."""
    import gzip

    texts: dict[str, None] = {}
    with gzip.open(shared("massbank", "massbank_ms2.mgf.gz"), "rt", errors="replace") as handle:
        for line in handle:
            key, _, value = line.partition("=")
            if key.upper() in ("SMILES", "INCHI") and value.strip():
                texts[value.strip()] = None
                if len(texts) == n:
                    break
    return list(texts)


def test_one_parse_gives_the_identity_and_the_bits_the_registry_fills():
    """A structure library's workers take identity and fingerprint from one molecule; the bits
    must equal those registry.ingest.fingerprints computes from the stored canonical SMILES, on real
    library SMILES, MassBank SMILES and InChIs (charged, salts, metals), Molfiles and InChIs
    without their prefix."""
    import gzip
    import itertools

    from rdkit import Chem

    with gzip.open(shared("library", "test.csv.gz"), "rt") as handle:
        texts = [line.strip() for line in itertools.islice(handle, 1, 1001)]
    texts += _massbank_structures(1500)
    texts += [
        Chem.MolToMolBlock(Chem.AddHs(Chem.MolFromSmiles(CAFFEINE_SMILES))),
        Chem.MolToMolBlock(Chem.MolFromSmiles("OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O")),
        CAFFEINE_INCHI.removeprefix("InChI="),
        "[2H]C([2H])([2H])N1C=NC2=C1C(=O)N(C)C(=O)N2C",
        "[Na+].[Cl-]",
    ]
    compared = 0
    for text in texts:
        try:
            identity, bits = identify_fingerprinted(text)
        except InvalidStructureError:
            with pytest.raises(InvalidStructureError):
                identify(text)
            continue
        assert identity == identify(text), text
        assert bits == fingerprint_bits(identity.smiles), text
        compared += 1
    assert compared > 2000


def test_an_adduct_is_inferred_within_20_ppm_only():
    mz = parse_adduct("[M+H]+").mz(CAFFEINE_MASS)
    assert infer_adduct(mz * (1 + 19.5e-6), CAFFEINE_MASS, "positive") == "[M+H]+"
    assert infer_adduct(mz * (1 + 20.5e-6), CAFFEINE_MASS, "positive") is None


@pytest.mark.parametrize(
    "text, name",
    [
        ("[M-H]", "[M-H]-"),
        ("M-H", "[M-H]-"),
        ("[M - H]", "[M-H]-"),
        ("[M]+.", "[M]+"),
        ("[M+Rb]+", "[M+Rb]+"),
        ("[M+Cl]", "[M+Cl]-"),
        ("[M+FA-H]", "[M+FA-H]-"),
        ("[M-H2O+H]", "[M+H-H2O]+"),
        ("[M+2H]", "[M+2H]2+"),
        ("[M+2Na-H]", "[M+2Na-H]+"),
        ("[M]", None),
        ("  ", None),
        (None, None),
    ],
)
def test_a_signless_adduct_gets_the_charge_its_terms_imply(text, name):
    assert normalize_adduct(text) == name
