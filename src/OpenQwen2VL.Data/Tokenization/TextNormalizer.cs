using System.Text;
using System.Text.Json;
using ADRaffy.ENSNormalize;

namespace OpenQwen2VL.Data.Tokenization;

/// <summary>
/// The `normalizer` of a tokenizer.json: null, a Unicode normal form, or a Sequence of them.
/// Our hosts run with InvariantGlobalization, where string.Normalize leaves non-ASCII text unchanged,
/// so composition uses ADRaffy.ENSNormalize's self-contained NFC/NFD (its own Unicode tables), and
/// string.Normalize only where the runtime really normalises.
/// </summary>
public sealed class TextNormalizer
{
    private readonly NormalizationForm[] _forms;

    private TextNormalizer(NormalizationForm[] forms) => _forms = forms;

    public static TextNormalizer None { get; } = new([]);

    public bool IsIdentity => _forms.Length == 0;

    private static readonly bool s_runtimeNormalizes = "e\u0301".Normalize(NormalizationForm.FormC) == "\u00e9";

    public static TextNormalizer FromJson(JsonElement normalizer)
    {
        if (normalizer.ValueKind == JsonValueKind.Null || normalizer.ValueKind == JsonValueKind.Undefined) return None;
        var forms = new List<NormalizationForm>();
        Collect(normalizer, forms);
        return new TextNormalizer([.. forms]);
    }

    private static void Collect(JsonElement n, List<NormalizationForm> forms)
    {
        string type = n.GetProperty("type").GetString() ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (var inner in n.GetProperty("normalizers").EnumerateArray()) Collect(inner, forms);
                break;
            case "NFC": forms.Add(NormalizationForm.FormC); break;
            case "NFD": forms.Add(NormalizationForm.FormD); break;
            case "NFKC" or "NFKD" when s_runtimeNormalizes:
                forms.Add(type == "NFKC" ? NormalizationForm.FormKC : NormalizationForm.FormKD);
                break;
            default:
                throw new NotSupportedException($"tokenizer.json normalizer '{type}' is not supported (supported: NFC, NFD, Sequence, null)");
        }
    }

    public string Normalize(string text)
    {
        foreach (var form in _forms)
        {
            // Below U+0300 nothing composes (NFC) and below U+00C0 nothing decomposes: the common all-ASCII caption costs one scan.
            char firstAffected = form == NormalizationForm.FormC ? '\u0300' : form == NormalizationForm.FormD ? '\u00C0' : '\u00A0';
            if (text.AsSpan().IndexOfAnyInRange(firstAffected, '\uFFFF') < 0) continue;
            // Most text is NFC already: the quick check answers without the allocating normalization.
            if (form == NormalizationForm.FormC && !s_runtimeNormalizes && NfcQuickCheck.IsNormalized(text)) continue;
            text = s_runtimeNormalizes ? text.Normalize(form)
                : form == NormalizationForm.FormC ? ENSNormalize.NF.NFC(text) : ENSNormalize.NF.NFD(text);
        }
        return text;
    }
}
