namespace OpenQwen2VL.Data.Tokenization;

/// <summary>
/// The GPT-2 byte-to-unicode table used by byte-level BPE: every byte gets a printable character
/// (printable Latin-1 bytes map to themselves, the rest to U+0100 onwards), so any UTF-8 text
/// becomes a string over a 256-character alphabet and no input is ever out of vocabulary.
/// </summary>
public static class ByteLevelAlphabet
{
    /// <summary>Character standing for each byte value.</summary>
    public static IReadOnlyList<char> ByteToChar => s_byteToChar;

    private static readonly char[] s_byteToChar = Build();
    // Inverse table over the characters the alphabet uses (all below U+0144); -1 elsewhere.
    private static readonly short[] s_charToByte = BuildInverse();

    private static char[] Build()
    {
        var map = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + next++);
        }
        return map;
    }

    private static short[] BuildInverse()
    {
        var inv = new short[512];
        Array.Fill(inv, (short)-1);
        for (int b = 0; b < 256; b++) inv[s_byteToChar[b]] = (short)b;
        return inv;
    }

    public static char ToChar(byte b) => s_byteToChar[b];

    /// <summary>The byte a character stands for, or -1 when the character is not in the alphabet.</summary>
    public static int ToByte(char c) => c < s_charToByte.Length ? s_charToByte[c] : -1;
}
