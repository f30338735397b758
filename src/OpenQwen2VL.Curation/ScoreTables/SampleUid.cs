using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace OpenQwen2VL.Curation.ScoreTables;

/// <summary>
/// A sample's uid as a 128-bit key, the form scores and uid lists are joined on. DataComp uids are 32 hex digits
/// (<c>uid_int = upper·2⁶⁴ + lower</c>, the two <c>u8</c> fields of its subset .npy files) and parse to that number,
/// whatever the letter case. Any other uid string (img2dataset run on another list, the synthetic shards'
/// <c>uid-0-5</c>) is keyed by the first 128 bits of its SHA-256, so it joins with the same string anywhere; a collision
/// with another uid has probability about n²/2¹²⁹.
/// </summary>
public static class SampleUid
{
    public static UInt128 Key(string uid)
    {
        ArgumentNullException.ThrowIfNull(uid);
        if (TryParseHex(uid, out var value)) return value;
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(uid), hash);
        return new UInt128(BitConverter.ToUInt64(hash[..8]), BitConverter.ToUInt64(hash[8..16]));
    }

    /// <summary>A DataComp uid: exactly 32 hex digits.</summary>
    public static bool TryParseHex(string uid, out UInt128 value)
    {
        value = default;
        if (uid.Length != 32 || !uid.All(char.IsAsciiHexDigit)) return false;
        ulong upper = ulong.Parse(uid.AsSpan(0, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        ulong lower = ulong.Parse(uid.AsSpan(16, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        value = new UInt128(upper, lower);
        return true;
    }

    /// <summary>32 lowercase hex digits, zero-padded (DataComp's spelling of a uid number).</summary>
    public static string ToHex(UInt128 value) => value.ToString("x32", CultureInfo.InvariantCulture);
}
