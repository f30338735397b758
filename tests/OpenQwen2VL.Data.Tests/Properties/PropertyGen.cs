using CsCheck;

namespace OpenQwen2VL.Tests.Properties;

/// <summary>Generators the round-trip properties share.</summary>
internal static class PropertyGen
{
    /// <summary>Iterations per property: a few hundred cases, well under a second or two each on 2 cores.</summary>
    public const long Iterations = 200;

    /// <summary>Any Unicode scalar value (no lone surrogates: they have no UTF-8 form), weighted towards ASCII and a few edge cases.</summary>
    public static readonly Gen<string> Scalar = Gen.Frequency(
        (4, Gen.Int[0x20, 0x7E]),
        (1, Gen.Int['\t', '\r']),
        (1, Gen.Int[0, 0x1F]),
        (2, Gen.Int[0x80, 0xD7FF]),
        (2, Gen.Int[0xE000, 0x10FFFF]),
        (1, Gen.OneOf(0x00A0, 0x200B, 0xFEFF, 0xFFFD, 0x1F600, 0x0301, 0x0022, 0x005C)))
        .Select(char.ConvertFromUtf32);

    /// <summary>Arbitrary Unicode text of 0 to <paramref name="max"/> scalar values.</summary>
    public static Gen<string> Text(int max) => Scalar.Array[0, max].Select(string.Concat);

    /// <summary>A name safe as a tar member, safetensors tensor or manifest key: letters, digits, '_', '-' and some non-ASCII.</summary>
    public static Gen<string> Name(int min, int max) =>
        Gen.Char["abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_-éß漢"].Array[min, max].Select(c => new string(c));
}
