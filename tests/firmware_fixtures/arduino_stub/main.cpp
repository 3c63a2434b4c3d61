// Stub Arduino core entry: setup(), one loop(), then sleep so simavr stops.
#include <avr/interrupt.h>
#include <avr/sleep.h>

#include "Arduino.h"

StubSerial Serial;

int main(void)
{
    setup();
    loop();
    while (!(UCSR0A & (1u << UDRE0))) {
    }
    cli();
    sleep_enable();
    sleep_cpu();
    return 0;
}
