/* A minimal stand-in for the Arduino core, enough to compile and run a sketch on an
 * ATmega328P under simavr: Serial prints to USART0, micros() counts Timer1 ticks. */
#ifndef ARDUINO_STUB_H
#define ARDUINO_STUB_H

#include <avr/io.h>
#include <stdint.h>
#include <stdlib.h>

class StubSerial {
public:
    void begin(unsigned long) {
        UBRR0 = 0;
        UCSR0A = (uint8_t)(1u << U2X0);
        UCSR0B = (uint8_t)(1u << TXEN0);
        UCSR0C = (uint8_t)((1u << UCSZ01) | (1u << UCSZ00));
        TCCR1B = (uint8_t)(1u << CS11); /* 2 MHz timer for micros() */
    }
    void write(char c) {
        while (!(UCSR0A & (1u << UDRE0))) {
        }
        UDR0 = (uint8_t)c;
    }
    void print(const char *s) {
        while (*s) {
            write(*s++);
        }
    }
    void print(long v) {
        char buf[12];
        ltoa(v, buf, 10);
        print(buf);
    }
    void print(int v) { print((long)v); }
    void print(unsigned long v) {
        char buf[12];
        ultoa(v, buf, 10);
        print(buf);
    }
    void println(const char *s) {
        print(s);
        write('\n');
    }
};

extern StubSerial Serial;

static inline unsigned long micros(void) { return TCNT1 / 2u; }
static inline void delay(unsigned long) {}

void setup(void);
void loop(void);

#endif
